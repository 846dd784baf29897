"""What a scan found, as a JSON-ready report and as a table for people. Counts and column names only.

The tallies here are the per-column half of a partial result (the other half is the subjects): they add up
across batches, files and workers, so a distributed run can merge them like the subjects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from export_gate.model import CATEGORIES, Counts
from export_gate.people.subjects import IDENTIFICATION_RULES, STRONG_IDENTIFIERS

#: Masked examples kept per column when asked for; more would only repeat the pattern.
EXAMPLES_PER_COLUMN = 3
#: Cells longer than this are free text: only identifiers found inside them are shown, masked.
MAX_EXAMPLE_CELL = 20

STANDARD_SENTENCES = {
    False: "An identity document number alone counts as personal, not sensitive, information "
    "(GB/T 45574-2025, the current standard).",
    True: "An identity document number alone counts as sensitive information (specific_identity), "
    "following the withdrawn GB/T 35273-2020 Annex B.",
}

#: What happened to findings on rows with nobody they can belong to, by whether they were counted.
UNANCHORED_SENTENCES = {
    False: "Findings on rows with no person they can belong to (no key, name, birth date or strong identifier on "
    "the row: product text, account codes, site coordinates) are not counted; the columns and cells are listed.",
    True: "Strict: findings on rows with no person they can belong to are counted, each as a person of its own.",
}


def mask_text(text: str) -> str:
    """Keep just enough of a value to recognise its shape: 138****5678, 1101**********123X, 张*."""
    text = text.strip()
    n = len(text)
    if n <= 2:
        head, tail = 1, 0
    elif n <= 6:
        head, tail = 1, 1
    elif n <= 10:
        head, tail = 2, 2
    else:
        head, tail = (3 if n <= 13 else 4), 4
    head = min(head, n - 1) if n > 1 else 0
    return text[:head] + "*" * (n - head - tail) + text[n - tail :] if n else ""


def mask_identifier(entity: str, identifier: str) -> str:
    """Mask a normalised identifier as people write it: without its type prefix ("CN_MOBILE:") and without the
    +86 country code of a mainland number."""
    text = identifier.removeprefix(entity + ":")
    return mask_text(text.removeprefix("+86") if entity == "CN_MOBILE" else text)


@dataclass
class ColumnTally:
    """Per column: cells scanned, cells per entity and per sensitive category, masked examples, and cells with
    findings on rows with nobody they can belong to (``unanchored``: not counted, shown to the reviewer)."""

    kind: str = ""
    reason: str = ""
    cells: int = 0
    unanchored: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def add_examples(self, masked: list[str]) -> None:
        for example in masked:
            if len(self.examples) >= EXAMPLES_PER_COLUMN:
                return
            if example not in self.examples:
                self.examples.append(example)

    def merge(self, other: ColumnTally) -> None:
        self.kind, self.reason = self.kind or other.kind, self.reason or other.reason
        self.cells += other.cells
        self.unanchored += other.unanchored
        for mine, theirs in ((self.entities, other.entities), (self.categories, other.categories)):
            for name, count in theirs.items():
                mine[name] = mine.get(name, 0) + count
        self.add_examples(other.examples)


@dataclass
class Tally:
    """Rows scanned and per-column tallies of one part of an export; ``merge`` adds another part."""

    rows: int = 0
    columns: dict[str, ColumnTally] = field(default_factory=dict)

    def column(self, name: str) -> ColumnTally:
        tally = self.columns.get(name)
        if tally is None:
            tally = self.columns[name] = ColumnTally()
        return tally

    def merge(self, other: Tally) -> None:
        self.rows += other.rows
        for name, tally in other.columns.items():
            self.column(name).merge(tally)


def build_report(
    *,
    tally: Tally,
    counts: Counts,
    identified_by: str,
    files: list[str],
    source_fingerprint: str | None,
    as_of: date,
    detector_version: str,
    identity_document_sensitive: bool,
    show_examples: bool = False,
    count_unanchored: bool = False,
) -> dict:
    """The JSON-ready report of one scan. Examples (already masked) appear only when asked for."""
    columns = {}
    for name, col in tally.columns.items():
        entry: dict[str, object] = {
            "plan": {"kind": col.kind, "reason": col.reason},
            "cells": col.cells,
            "entities": dict(sorted(col.entities.items())),
            "categories": {cat: col.categories[cat] for cat in CATEGORIES if cat in col.categories},
        }
        if col.unanchored:
            entry["unanchored_cells"] = col.unanchored
        if show_examples:
            entry["examples"] = list(col.examples)
        columns[name] = entry
    return {
        "rows": tally.rows,
        "cells": sum(col.cells for col in tally.columns.values()),
        "subjects": {
            "personal": counts.personal,
            "sensitive": counts.sensitive,
            "identified_by": identified_by,
            "rule": IDENTIFICATION_RULES[identified_by == STRONG_IDENTIFIERS],
        },
        "categories": {cat: {"subjects": counts.categories.get(cat, 0)} for cat in CATEGORIES},
        "unanchored": {
            "counted": count_unanchored,
            "rule": UNANCHORED_SENTENCES[count_unanchored],
            "columns": {name: col.unanchored for name, col in tally.columns.items() if col.unanchored},
        },
        "columns": columns,
        "files": files,
        "as_of": as_of.isoformat(),
        "detector_version": detector_version,
        "settings": {
            "identity_document_sensitive": identity_document_sensitive,
            "standard": STANDARD_SENTENCES[identity_document_sensitive],
        },
        "source_fingerprint": source_fingerprint,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return [line.format(*header).rstrip(), line.format(*("-" * w for w in widths)).rstrip()] + [
        line.format(*row).rstrip() for row in rows
    ]


def _pairs(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "-"


def render_table(report: dict) -> str:
    """The report for a person at a terminal: totals, categories, then what each column holds."""
    subjects = report["subjects"]
    out = [
        f"Export Gate scan of {len(report['files'])} file(s), as of {report['as_of']}",
        f"rows {report['rows']:,}   cells {report['cells']:,}   detector {report['detector_version']}",
        f"people: {subjects['personal']:,} with personal information, {subjects['sensitive']:,} with sensitive "
        f"information (identified by {subjects['identified_by']})",
        subjects["rule"],
        report["settings"]["standard"],
        "",
    ]
    out += _table(
        ["sensitive category", "people"],
        [[cat, f"{entry['subjects']:,}"] for cat, entry in report["categories"].items()],
    )
    out.append("")
    show_examples = any("examples" in col for col in report["columns"].values())
    header = ["column", "plan", "entities (cells)", "categories (cells)"] + (["examples"] if show_examples else [])
    rows = []
    for name, col in report["columns"].items():
        row = [name, col["plan"]["kind"], _pairs(col["entities"]), _pairs(col["categories"])]
        if show_examples:
            row.append(", ".join(col.get("examples", [])) or "-")
        rows.append(row)
    out += _table(header, rows)
    return "\n".join(out) + "\n"
