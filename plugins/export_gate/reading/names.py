"""Column names are data too: a headerless CSV makes its first row the column names, and JSON objects keyed by
a phone number or an ID (``{"13812345678": {...}}``) make every key a column name.

Before a batch is scanned, its column names run through the same detectors as its cells (each distinct name
once per scan). Then:

* names that came from a CSV header line: a header holding personal data is a data row read as a header (the
  row would be lost and its values would become column names): InputError naming the file and the columns by
  position, never the text;
* any other name holding personal data or a run of nine or more digits (a JSON key, a Parquet or Arrow
  field, a struct field inside a nested path): the part holding it is replaced by a pseudonym (``<withheld
  keyed digest>``) before anything records the name (report, audit record, output, error messages), and the
  withheld text becomes one more column of the batch, holding it on each row where the column has a value, so
  the people it names are counted.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from export_gate.errors import InputError
from export_gate.reading.flatten import LeafColumn

if TYPE_CHECKING:
    from export_gate.detection.detect import Detector
    from export_gate.people.digest import SubjectHasher
    from export_gate.reading.read import Batch

#: What the names are planned as (a neutral name: the column-name rules must not decide for the text itself).
NAMES_COLUMN = "column names"
#: Digest kind of a withheld column name (the pseudonym is this digest, shortened).
NAME_KIND = "column_name"
#: The parts of a flattened name between its path separators (``a.b``, ``a[]``, ``a{}``, ``a{key}``).
_PARTS = re.compile(r"[^.\[\]{}]+")
#: A run of nine or more digits (spaces and hyphens between them allowed): withheld from a name even when no
#: detector names it (a mobile prefix the detectors do not know yet, an account number), since it is far
#: likelier an identifier than a column's name. Nine, so a date like 20260131 in a pivot column stays.
_DIGIT_RUN = re.compile(r"\d(?:[\s-]?\d){8,}")


class ColumnNames:
    """The column-name check of one scan: remembers each text's verdict, so every name is detected once.

    A flattened name is looked at whole (an e-mail key holds dots) and part by part (``contacts.13812345678``):
    a part that holds personal data is replaced by its pseudonym and the other parts stay, so
    ``<withheld ...>.name`` is still planned as a name column; a name that holds data only as a whole is
    replaced whole."""

    def __init__(self, detector: Detector, hasher: SubjectHasher, as_of: date) -> None:
        # the scan's detectors without spaCy NER: names are short, and loading a language model in the scanning
        # process for a handful of names would cost seconds and memory every scan whose names read like text
        self._detector = type(detector)(dataclasses.replace(detector.settings, ner=False))
        self._hasher = hasher
        self._as_of = as_of
        self._entities: dict[str, tuple[str, ...]] = {}  # text (a name or a part) -> entities found in it
        self._renamed: dict[str, tuple[str, str] | None] = {}  # name -> (pseudonym, text to scan), None: clean

    def screened(self, batch: Batch) -> Batch:
        """``batch`` with its column names checked (see the module docstring): unchanged when no name holds
        personal data; InputError for a CSV header that does."""
        self._detect([leaf.name for leaf in batch.columns if leaf.name not in self._renamed])
        personal = [(i, leaf) for i, leaf in enumerate(batch.columns) if self._renamed[leaf.name] is not None]
        if not personal:
            return batch
        if batch.header_line:
            where = ", ".join(f"column {i + 1} ({'/'.join(self._found_in(leaf.name))})" for i, leaf in personal[:5])
            raise InputError(
                f"{batch.source}: the first line looks like a data row, not a header: {where} holds personal data; "
                "add a header line naming the columns (the file is not scanned without one)"
            )
        columns = list(batch.columns)
        for i, leaf in personal:
            renamed = self._renamed[leaf.name]
            assert renamed is not None
            alias, text = renamed
            columns[i] = LeafColumn(alias, leaf.values, leaf.rows)
            columns.append(LeafColumn(f"{alias} (the name)", _where_valid(leaf.values, text), leaf.rows))
        return dataclasses.replace(batch, columns=columns)

    def _detect(self, names: list[str]) -> None:
        if not names:
            return
        texts = list(dict.fromkeys(t for name in names for t in (name, *_parts(name)) if t not in self._entities))
        if texts:
            values = pa.array(texts, pa.string())
            found = self._detector.detect(self._detector.plan(NAMES_COLUMN, pa.string(), values), values, self._as_of)
            entities: dict[int, set[str]] = {}
            for row, hits in zip(found.rows.tolist(), found.per_row(), strict=True):
                entities.setdefault(row, set()).update(hit.entity for hit in hits)
            self._entities.update((text, tuple(sorted(entities.get(i, ())))) for i, text in enumerate(texts))
        for name in names:
            parts = [part for part in _parts(name) if self._entities[part] or _DIGIT_RUN.search(part)]
            if parts:
                withheld = {part: self._pseudonym(part) for part in parts}
                alias = _PARTS.sub(lambda m, withheld=withheld: withheld.get(m.group(), m.group()), name)
                self._renamed[name] = (alias, " ".join(parts))
            elif self._entities[name] or _DIGIT_RUN.search(name):
                self._renamed[name] = (self._pseudonym(name), name)
            else:
                self._renamed[name] = None

    def _found_in(self, name: str) -> list[str]:
        """What a name holds, in words for an error message (entity names, never the text)."""
        return sorted({e for text in (name, *_parts(name)) for e in self._entities.get(text, ())}) or ["a long number"]

    def _pseudonym(self, text: str) -> str:
        """What a name, or a part of one, holding personal data is called wherever the gate records it."""
        return f"<withheld {self._hasher.digest(NAME_KIND, text).hex()[:12]}>"


def _parts(name: str) -> list[str]:
    return [part for part in _PARTS.findall(name) if part != name]


def _where_valid(values: pa.Array, text: str) -> pa.Array:
    """``text`` where ``values`` has a value, else null: the name is data on every row that uses the column."""
    return pc.if_else(pc.is_valid(values), pa.scalar(text, pa.string()), pa.scalar(None, pa.string()))
