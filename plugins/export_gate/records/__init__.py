"""What the gate remembers: the year-to-date ledger, the hash-chained audit log, and their database."""
