"""Schema revisions, oldest first: 0001 the ledger, 0002 the audit log."""
