"""The subject digest scheme of each calendar year: keyed BLAKE2b for years started from this revision on, and
HMAC-SHA256 (the only scheme before it) for every year an existing ledger already holds, which keeps it: raw
identifiers are never stored, so a year's people cannot be digested again under another scheme.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Frozen copies of the names in export_gate.records.ledger and export_gate.people.digest at this revision.
YEAR_KEY_CHECK = "key_check:"
YEAR_DIGESTS = "digests:{year}"
HMAC_SHA256 = "hmac-sha256"

meta = sa.table("ledger_meta", sa.column("name", sa.String), sa.column("value", sa.String))
scope = sa.table("ledger_scope", sa.column("year", sa.Integer))


def upgrade() -> None:
    conn = op.get_bind()
    checked = conn.execute(sa.select(meta.c.name).where(meta.c.name.like(YEAR_KEY_CHECK + "%"))).scalars().all()
    years = {int(name.removeprefix(YEAR_KEY_CHECK)) for name in checked}
    years.update(conn.execute(sa.select(scope.c.year).distinct()).scalars().all())
    if years:
        op.bulk_insert(meta, [{"name": YEAR_DIGESTS.format(year=year), "value": HMAC_SHA256} for year in sorted(years)])


def downgrade() -> None:
    op.get_bind().execute(sa.delete(meta).where(meta.c.name.like(YEAR_DIGESTS.format(year="%"))))
