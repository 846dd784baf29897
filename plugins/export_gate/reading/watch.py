"""Notice a file that changes while the gate scans it, so what was counted is what was fingerprinted.

A scan reads each file twice (the parser, and the fingerprint hashing beside it) and takes minutes on a large
export. A file appended to, truncated, rewritten or replaced in that time would be counted half old, half new
while the audit record named a fingerprint of other bytes. ``Watch`` records what each file is when the scan
starts (local files: device, inode, size, modification and change times in nanoseconds; other filesystems:
size and whatever version the store reports, e.g. ETag or generation) and checks it again after the file was
hashed, after it was parsed and when the scan ends. If it is the same every time, the bytes hashed are the bytes
parsed; any difference is an InputError (the gate fails closed, exit 2).

What it cannot see: a change undone before the next check that also restores both timestamps (the change time
cannot be set back without changing the clock), and, on stores that report no version, a rewrite of the same
size.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence

import fsspec
from fsspec.implementations.local import LocalFileSystem

from export_gate.errors import InputError

#: Fields of ``fs.info`` that change when an object is rewritten, on the fsspec stores that report them.
_VERSION_FIELDS = ("mtime", "LastModified", "last_modified", "ETag", "etag", "md5Hash", "generation", "created")


def state_of(source: str) -> tuple[Hashable, ...]:
    """What ``source`` is now: (size, identity...), or ``(None,)`` when it is gone. Never cached: a cached
    listing (s3fs, gcsfs) would hide the change this is here to see."""
    fs, path = fsspec.core.url_to_fs(source)
    if isinstance(fs, LocalFileSystem):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            return (None,)
        return stat.st_size, stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns
    fs.invalidate_cache(path)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        return (None,)
    return (info.get("size"), *(str(info.get(name)) for name in _VERSION_FIELDS))


class Watch:
    """The state of each file of one scan when the scan started; ``check`` compares a file with it."""

    def __init__(self, files: Sequence[str]) -> None:
        self._states = {source: state_of(source) for source in files}

    def check(self, source: str) -> None:
        """InputError naming ``source`` and what happened to it, if it is no longer what it was at the start."""
        before = self._states.get(source)
        if before is None:
            return
        after = state_of(source)
        if after != before:
            raise InputError(
                f"{source}: {_change(before, after)} while the gate scanned it; scan it again once it is complete"
            )

    def check_all(self) -> None:
        """``check`` every file (at the end of a scan: a file already parsed may have changed since)."""
        for source in self._states:
            self.check(source)


def _change(before: tuple[Hashable, ...], after: tuple[Hashable, ...]) -> str:
    """What happened, in words a person can check against the writer (sizes only: never content)."""
    size, now = before[0], after[0]
    if now is None:
        return "was removed"
    if isinstance(size, int) and isinstance(now, int) and size != now:
        verb = "grew" if now > size else "shrank"
        return f"{verb} from {size:,} to {now:,} bytes"
    if len(before) == 5 and before[1:3] != after[1:3]:
        return "was replaced by another file"
    return "was rewritten"
