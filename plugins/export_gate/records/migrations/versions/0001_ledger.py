"""The year-to-date ledger: per (handler, year) scope, persons by keyed digest with per-bit reference counts,
aliases, reservations and their members, the mask histogram that gives the totals, and the change history.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Frozen copy of export_gate.records.database.REF_COLUMNS at this revision.
REF_COLUMNS = (
    "personal_refs",
    "biometric_refs",
    "religious_belief_refs",
    "specific_identity_refs",
    "medical_health_refs",
    "financial_account_refs",
    "location_tracking_refs",
    "minor_under_14_refs",
)


def upgrade() -> None:
    # Tables keyed by digest are clustered on their key in SQLite (WITHOUT ROWID): one B-tree instead of two,
    # which halves the work of adding a million people.
    op.create_table(
        "ledger_scope",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("handler_id", sa.String(200), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.UniqueConstraint("handler_id", "year"),
    )
    op.create_table(
        "ledger_person",
        sa.Column("scope_id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.LargeBinary(16), primary_key=True),
        sa.Column("mask", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False) for name in REF_COLUMNS),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_alias",
        sa.Column("scope_id", sa.Integer, primary_key=True),
        sa.Column("digest", sa.LargeBinary(16), primary_key=True),
        sa.Column("person", sa.LargeBinary(16), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_reservation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(500), nullable=False, unique=True),
        sa.Column("scope_id", sa.Integer, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("export_counts", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
    )
    op.create_table(
        "ledger_membership",
        sa.Column("reservation_id", sa.Integer, primary_key=True),
        sa.Column("person", sa.LargeBinary(16), primary_key=True),
        sa.Column("mask", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_mask_total",
        sa.Column("scope_id", sa.Integer, primary_key=True),
        sa.Column("mask", sa.Integer, primary_key=True),
        sa.Column("subjects", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("reservation", sa.String(500), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_history_scope_ts", "ledger_history", ["scope_id", "ts"])
    op.create_table(
        "ledger_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ledger_meta",
        "ledger_history",
        "ledger_mask_total",
        "ledger_membership",
        "ledger_reservation",
        "ledger_alias",
        "ledger_person",
        "ledger_scope",
    ):
        op.drop_table(table)
