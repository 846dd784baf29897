"""Errors the gate reports to people. Each names what is wrong (file, column, list entry) and what to do.

Any of them means the gate cannot decide: the CLI exits with code 2 and the operator blocks the export.
"""

from __future__ import annotations

#: Exit codes of the CLI: allow/annotate, block, could not decide (which also blocks).
EXIT_OK, EXIT_BLOCK, EXIT_ERROR = 0, 1, 2


class GateError(Exception):
    """The gate cannot decide. The message is one line a person can act on; it never holds a raw value."""


class InputError(GateError):
    """The export cannot be read: missing path, corrupt file, wrong encoding, ragged rows, ..."""


class ListError(GateError):
    """A list in lists/ (or given by path) is malformed or unknown, or the handler may not use it."""


class LedgerError(GateError):
    """The ledger or audit database cannot be used: unreachable, not migrated, no secret key, ..."""


class ConfigError(GateError):
    """The gate was called with settings that contradict each other or name unknown things."""
