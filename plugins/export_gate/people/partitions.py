"""The sorted columns of a ``SubjectSet`` (digest high word, low word, person), one partition at a time, in
memory or spilled to disk.

A scan's subject table grows with the export (about 20 bytes an identifier: 267 MiB at ten million rows) while
everything else a scan holds stays flat, so past its share of the memory budget the table moves to files, one
per partition, and each partition is read back only while it is worked on (a few megabytes at a time). The files
hold keyed digest words and person numbers, never a raw value; they live in a private temporary folder (mode
0700, from ``tempfile.mkdtemp``) that is removed when the set is finished, closed, or garbage collected.
Reading a partition back is a copy from the page cache: the memory the table held becomes reclaimable cache the
kernel can drop, not memory the scan keeps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import numpy as np

#: Index type of the person column: half the memory of int64, room for 2**31 identifiers.
INDEX = np.int32
Columns = tuple[np.ndarray, np.ndarray, np.ndarray]
#: Bytes an identifier takes in the columns (two digest words and a person number).
BYTES_PER_IDENTIFIER = 8 + 8 + np.dtype(INDEX).itemsize


def _empty() -> Columns:
    return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=INDEX)


class Partitions:
    """``count`` partitions of (high, low, person) columns: ``get`` and ``put`` one, ``spill`` all to disk,
    ``drain`` them into whole columns at the end."""

    def __init__(self, count: int) -> None:
        self._memory: list[Columns] = [_empty()] * count
        self._sizes = [0] * count
        self._folder: str | None = None
        self._remove: weakref.finalize | None = None

    @property
    def spilled(self) -> bool:
        return self._folder is not None

    def get(self, part: int) -> Columns:
        """Partition ``part``'s columns (a fresh copy read from its file once spilled)."""
        if self._folder is None:
            return self._memory[part]
        size = self._sizes[part]
        if not size:
            return _empty()
        raw = np.fromfile(self._path(part), dtype=np.uint8)
        words = raw[: 16 * size].view(np.uint64)
        return words[:size], words[size:], raw[16 * size :].view(INDEX)

    def put(self, part: int, columns: tuple[np.ndarray, ...]) -> None:
        """Replace partition ``part`` (written to a new file and renamed over the old one once spilled)."""
        high, low, person = columns
        self._sizes[part] = len(high)
        if self._folder is None:
            self._memory[part] = (high, low, person)
            return
        path = self._path(part)
        with open(f"{path}.new", "wb") as handle:
            for column in (high, low, person):
                np.ascontiguousarray(column).tofile(handle)
        os.replace(f"{path}.new", path)

    def spill(self) -> None:
        """Move every partition to its file in a new private folder; memory holds none of them afterwards."""
        if self._folder is not None:
            return
        self._folder = tempfile.mkdtemp(prefix="export-gate-subjects-")
        self._remove = weakref.finalize(self, shutil.rmtree, self._folder, ignore_errors=True)
        for part, columns in enumerate(self._memory):
            self.put(part, columns)
            self._memory[part] = _empty()

    def drain(self) -> Columns:
        """All partitions one after the other (in digest order) as whole columns, each partition freed (or its
        file removed) once copied: never two copies of the table. Ends the partitions."""
        total = sum(self._sizes)
        out = (np.empty(total, np.uint64), np.empty(total, np.uint64), np.empty(total, INDEX))
        at = 0
        for part, size in enumerate(self._sizes):
            for column, values in zip(out, self.get(part), strict=True):
                column[at : at + size] = values
            at += size
            self._memory[part] = _empty()
        self.close()
        return out

    def close(self) -> None:
        """Remove the spill folder (if any) now; safe to call again."""
        if self._remove is not None:
            self._remove()

    def _path(self, part: int) -> str:
        assert self._folder is not None
        return os.path.join(self._folder, f"{part}.bin")
