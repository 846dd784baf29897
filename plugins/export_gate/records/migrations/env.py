"""Alembic environment: export_gate.records.database.migrate passes an open connection inside its locked transaction.

New revisions are written by hand in versions/ (``revision``/``down_revision`` strings), frozen: they never
import the live table definitions of export_gate.records.database.
"""

from alembic import context

from export_gate.errors import LedgerError

connection = context.config.attributes.get("connection")
if connection is None:
    raise LedgerError(
        "the ledger migrations run only through export_gate.records.database.migrate (no offline SQL mode)"
    )
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
