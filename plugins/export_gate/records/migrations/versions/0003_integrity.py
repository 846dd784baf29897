"""Integrity: the secret-key check per calendar year (so a new key can start with a new year without losing
the old years), and a random ledger id that names this ledger in the audit chain's anchor files.

An existing ledger upgrades in place: its one key check becomes the check of every year it holds. Audit
records written before this revision stay as they were (unkeyed; ``audit verify`` counts and names them).

Revision ID: 0003
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Frozen copies of the names in export_gate.records.ledger at this revision.
KEY_CHECK = "key_check"
YEAR_KEY_CHECK = "key_check:{year}"
LEDGER_ID = "ledger_id"

meta = sa.table("ledger_meta", sa.column("name", sa.String), sa.column("value", sa.String))
scope = sa.table("ledger_scope", sa.column("year", sa.Integer))


def upgrade() -> None:
    conn = op.get_bind()
    check = conn.execute(sa.select(meta.c.value).where(meta.c.name == KEY_CHECK)).scalar()
    if check is not None:
        years = conn.execute(sa.select(scope.c.year).distinct()).scalars().all()
        rows = [{"name": YEAR_KEY_CHECK.format(year=year), "value": check} for year in sorted(years)]
        if rows:
            op.bulk_insert(meta, rows)
        conn.execute(sa.delete(meta).where(meta.c.name == KEY_CHECK))
    op.bulk_insert(meta, [{"name": LEDGER_ID, "value": uuid.uuid4().hex}])


def downgrade() -> None:
    conn = op.get_bind()
    checks = conn.execute(sa.select(meta.c.value).where(meta.c.name.like("key_check:%"))).scalars().all()
    conn.execute(sa.delete(meta).where(meta.c.name.like("key_check:%") | (meta.c.name == LEDGER_ID)))
    if checks:
        op.bulk_insert(meta, [{"name": KEY_CHECK, "value": checks[0]}])
