"""Alembic migrations of the ledger and audit database; run by export_gate.db.migrate, never by hand."""
