"""The filings register (standard contracts, certifications and security assessment approvals on file, each with
its recipients and scope) and the handler ids bound to a legal entity's unified social credit code.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("issued", sa.String(10), nullable=False),
        sa.Column("valid_until", sa.String(10)),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expired_on", sa.String(10)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("entity", "kind", "reference"),
    )
    op.create_index("ix_filing_entity_status", "filing", ["entity", "status"])
    op.create_table(
        "handler_entity",
        sa.Column("handler_id", sa.String(200), primary_key=True),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("bound_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("handler_entity")
    op.drop_index("ix_filing_entity_status", "filing")
    op.drop_table("filing")
