"""What the Spark tests share."""

from __future__ import annotations

from typing import Any

from export_gate.people.union import merge

#: The master of the tests' local Spark: two executor cores, like the machines the suite runs on.
MASTER = "local[2]"


def with_table(result: Any) -> Any:
    """A Spark scan's result with its people read into one table, as the ledger would read them (the engine
    streams them from Spark as batches of whole people), so they compare with the local engine's table."""
    result.subjects = merge(result.subjects, result.subjects.identified_by)
    return result
