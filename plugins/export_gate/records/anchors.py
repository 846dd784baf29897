"""Heads of the audit chain recorded outside the database, so truncating or wiping the log is caught.

A head is one record's id and chain hash (``ID:HASH``). The gate publishes the head of every record it
appends: in the task log and the XCom summary (``audit_id``, ``audit_hash``), and as a line
``LEDGER_ID ID HASH`` in the state folder's anchor file (``settings.anchors_path``). A reviewer records a head
with ``export-gate audit head`` wherever they keep notes. ``export-gate audit verify`` then checks that every
head it is given is still in the chain with the same hash: a database rewritten from that record on, or
missing it, fails. An anchor file can hold the heads of several ledgers: each line names its ledger's id (a
random id kept in the ledger, see ledger.ledger_id), and only this ledger's lines apply.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from export_gate.errors import ConfigError

_HEAD = re.compile(r"^(\d+):([0-9a-f]{64})$")


@dataclass(frozen=True)
class Anchor:
    """Record ``record_id`` had chain hash ``hash``, as recorded in ``source`` (a file, the command line)."""

    record_id: int
    hash: str
    source: str


def format_head(record_id: int, chain_hash: str) -> str:
    """The ``ID:HASH`` text a reviewer records and passes back to ``audit verify --anchor``."""
    return f"{record_id}:{chain_hash}"


def parse_head(text: str, source: str = "--anchor") -> Anchor:
    """An ``ID:HASH`` head (as printed by ``export-gate audit head`` and in the task log)."""
    match = _HEAD.match(text.strip())
    if match is None:
        raise ConfigError(
            f"{source} {text!r} is not a chain head: expected ID:HASH, e.g. 42:<64 hex digits>, as printed by "
            "`export-gate audit head` or in the gate's task log"
        )
    return Anchor(int(match.group(1)), match.group(2), source)


def publish(path: Path, ledger_id: str, record_id: int, chain_hash: str) -> None:
    """Append one head to the anchor file (one short line, written with O_APPEND: concurrent gates on one
    machine never interleave within a line)."""
    line = f"{ledger_id} {record_id} {chain_hash}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_file(path: Path, ledger_id: str, *, required: bool) -> list[Anchor]:
    """This ledger's heads in an anchor file. ``required`` (a file the user named): a missing file, a bad
    line, or a file with heads of other ledgers only is an error; the default local file is read leniently."""
    if not path.exists():
        if required:
            raise ConfigError(f"anchor file {path} does not exist")
        return []
    anchors, others = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[1].isdigit() or not re.fullmatch(r"[0-9a-f]{64}", parts[2]):
            if required:
                raise ConfigError(f"{path}:{number}: expected 'LEDGER_ID ID HASH', got {line[:80]!r}")
            continue
        if parts[0] != ledger_id:
            others.add(parts[0])
            continue
        anchors.append(Anchor(int(parts[1]), parts[2], str(path)))
    if required and not anchors and others:
        raise ConfigError(
            f"anchor file {path} holds heads of ledger(s) {', '.join(sorted(others))}, none of this ledger "
            f"({ledger_id}): it is another ledger's file, or this ledger's id was changed"
        )
    return anchors
