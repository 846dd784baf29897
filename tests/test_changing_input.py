"""A file that changes while it is scanned (issue 12 item 9): appended to, truncated, rewritten in place or
replaced, alone or inside a folder. The scan must stop with an InputError (exit 2) naming the file, never count
half-old half-new rows under a fingerprint of other bytes.

Each change is made from the scan's progress callback, which runs in the scanning process between batches
(one worker: the reader is lazy), so it lands at a known point of the scan: mid-file or after a file was parsed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.engine.local import scan_paths
from export_gate.errors import InputError
from export_gate.people.digest import SubjectHasher
from export_gate.reading.read import BATCH_ROWS, fingerprint
from faker import Faker

AS_OF = date(2026, 6, 30)
HASHER = SubjectHasher(b"test-key-0123456789abcdef")
#: Rows per file: three batches, so a change made after the first batch lands while the file is being read.
ROWS = 2 * BATCH_ROWS + 1000


def _table(seed: int) -> pa.Table:
    """Rows of people Faker made (zh_CN): names and mobiles cycled from a few hundred, so it stays quick."""
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    names = [fake.name() for _ in range(300)]
    phones = [fake.phone_number() for _ in range(300)]
    return pa.table(
        {
            "name": [names[i % 300] for i in range(ROWS)],
            "mobile": [phones[(i * 7) % 300] for i in range(ROWS)],
            "order_no": [f"ORD{i:09d}" for i in range(ROWS)],
        }
    )


def _write(path: Path, table: pa.Table) -> Path:
    if path.suffix == ".csv":
        pa.csv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=BATCH_ROWS)
    return path


def _scan_changing(paths: list[Path], at_call: int, change: Callable[[], None]) -> str:
    """Scan ``paths`` making ``change`` at the ``at_call``-th progress call; the InputError's message."""
    calls = 0

    def progress(rows: int) -> None:
        nonlocal calls
        calls += 1
        if calls == at_call:
            change()

    with pytest.raises(InputError) as caught:
        scan_paths([str(path) for path in paths], as_of=AS_OF, hasher=HASHER, workers=1, progress=progress)
    message = str(caught.value)
    assert "while the gate scanned it" in message and "\n" not in message
    return message


def _truncate(path: Path, size: int) -> Callable[[], None]:
    return lambda: os.truncate(path, size)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_appended_to_during_the_scan(tmp_path: Path, suffix: str) -> None:
    path = _write(tmp_path / f"export{suffix}", _table(1))
    size = path.stat().st_size

    def append() -> None:
        with path.open("ab") as handle:
            handle.write(b"\xe5\xbc\xa0\xe4\xbc\x9f,13812345678,ORD999999999\n")

    message = _scan_changing([path], 1, append)
    assert f"export{suffix}: grew from {size:,} to" in message
    assert "13812345678" not in message


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_file_truncated_during_the_scan(tmp_path: Path, suffix: str) -> None:
    path = _write(tmp_path / f"export{suffix}", _table(2))
    size = path.stat().st_size
    message = _scan_changing([path], 1, _truncate(path, size // 2))
    assert f"export{suffix}: shrank from {size:,} to {size // 2:,} bytes" in message


def test_a_file_replaced_by_another_of_the_same_size(tmp_path: Path) -> None:
    """Renamed over (what most writers do): the same size, another file. The size alone would not show it."""
    path = _write(tmp_path / "export.csv", _table(3))
    replacement = tmp_path / "new.tmp"
    replacement.write_bytes(path.read_bytes().replace(b"ORD", b"XYZ"))
    assert replacement.stat().st_size == path.stat().st_size
    message = _scan_changing([path], 1, lambda: os.replace(replacement, path))
    assert "export.csv: was replaced by another file" in message


def test_a_file_rewritten_in_place_with_the_same_size(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.csv", _table(4))

    def rewrite() -> None:
        with path.open("r+b") as handle:
            handle.seek(100)
            handle.write(b"X")

    message = _scan_changing([path], 1, rewrite)
    assert "export.csv: was rewritten" in message


@pytest.mark.parametrize(("truncated", "at_call"), [(1, 1), (0, 4)], ids=["not-yet-read", "already-parsed"])
def test_one_file_of_a_folder_truncated(tmp_path: Path, truncated: int, at_call: int) -> None:
    """The issue's case: one file of a folder cut short. Before it is read (its rows would be missing from the
    count) or after it was parsed (its fingerprint would not be of the bytes counted)."""
    folder = tmp_path / "export"
    folder.mkdir()
    files = [_write(folder / f"part-{i}.parquet", _table(10 + i)) for i in range(2)]
    victim = files[truncated]
    message = _scan_changing([folder], at_call, _truncate(victim, 1000))
    assert message.startswith(f"{victim}: shrank from")


def test_an_unchanged_file_is_fingerprinted_as_read(tmp_path: Path) -> None:
    """No false alarm: a file left alone scans, and the fingerprint is of its bytes."""
    path = _write(tmp_path / "export.csv", _table(5))
    result = scan_paths([str(path)], as_of=AS_OF, hasher=HASHER, workers=1)
    assert result.report["rows"] == ROWS
    assert result.report["source_fingerprint"] == fingerprint([str(path)])
