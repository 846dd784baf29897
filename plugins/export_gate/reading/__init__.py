"""Reading an export: sources (files, URLs, SQL, tables) into a stream of flattened Arrow record batches."""
