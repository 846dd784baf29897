"""Schema revisions, oldest first: 0001 the ledger, 0002 the audit log, 0003 per-year key checks and the
ledger id, 0004 the filings register."""
