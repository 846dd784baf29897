"""How much memory a scan may take, and how the scan divides it.

A scan holds three kinds of memory: the worker processes (each scanning one batch: about 150 MiB with spaCy
shared copy-on-write), the batches in flight between reader and workers, and the subject table, which alone
grows with the export (about 20 bytes an identifier). The budget (``EXPORT_GATE_MEMORY_BUDGET``, default 1 GiB)
caps the number of workers and of batches in flight, and gives the subject table a share past which it is
spilled to disk (``people.partitions``). The rest is the scanning process itself: the reader's buffers and a
flush's temporaries.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from export_gate.errors import ConfigError

#: The environment variable a deployment sets: bytes, or a number with KiB, MiB or GiB.
BUDGET_ENV = "EXPORT_GATE_MEMORY_BUDGET"
DEFAULT_BUDGET = 1 << 30
#: Below this no scan can run (one worker and the scanning process).
MIN_BUDGET = 256 << 20
#: What one worker process holds while it scans a batch (measured: 130-160 MiB PSS at 32,768 rows).
WORKER_BYTES = 160 << 20
#: What one batch in flight holds: its Arrow buffers in a shared slot (about 8 MiB), its pickled header and the
#: partial result waiting to be merged, with room for wide rows.
BATCH_BYTES = 32 << 20
_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}


@dataclass(frozen=True)
class MemoryBudget:
    """A scan's memory budget in bytes and its shares: half for workers, an eighth each for batches in flight
    and for the subject table, the rest for the scanning process."""

    total: int = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if self.total < MIN_BUDGET:
            raise ConfigError(
                f"a memory budget of {self.total >> 20} MiB is too small for a scan; give at least "
                f"{MIN_BUDGET >> 20} MiB ({BUDGET_ENV})"
            )

    @classmethod
    def from_env(cls) -> MemoryBudget:
        """``$EXPORT_GATE_MEMORY_BUDGET`` (e.g. ``1GiB``, ``768MiB``, ``2147483648``), else 1 GiB."""
        text = os.environ.get(BUDGET_ENV, "").strip()
        if not text:
            return cls()
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ConfigError(f"{BUDGET_ENV}={text!r} is not a size; write bytes or e.g. 1GiB or 768MiB")
        return cls(int(float(match.group(1)) * _UNITS[match.group(2).lower()]))

    @property
    def subject_bytes(self) -> int:
        """The subject table's share: past it the table is spilled to disk."""
        return self.total // 8

    def workers(self, wanted: int) -> int:
        """How many of the ``wanted`` worker processes fit in the workers' share (at least one)."""
        return max(1, min(wanted, (self.total // 2) // WORKER_BYTES))

    def in_flight(self, workers: int, per_worker: int) -> int:
        """Batches in flight for ``workers`` (``per_worker`` each when they fit; never fewer than one a worker)."""
        return max(workers, min(workers * per_worker, (self.total // 8) // BATCH_BYTES))
