"""Subcommands of the export-gate CLI, one module each."""
