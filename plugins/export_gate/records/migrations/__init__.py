"""Alembic migrations of the ledger and audit database; run by export_gate.records.database.migrate, never by hand."""
