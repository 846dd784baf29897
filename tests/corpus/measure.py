"""How the scan does on a corpus dataset: its subject counts (scanned as the CLI and the operator scan, with
or without the dataset's subject keys) and per-entity-class precision and recall per cell. Used by the
accuracy tests and by benchmarks/bench_accuracy.py, so both measure the same thing."""

from __future__ import annotations

from dataclasses import dataclass

from export_gate.detection.detect import Detector, DetectorSettings
from export_gate.engine.local import SAMPLE_VALUES, scan_table
from export_gate.model import Counts
from export_gate.people.digest import SubjectHasher
from export_gate.reading import read

from corpus.build import AS_OF, CLASSES, Dataset

_HASHER = SubjectHasher(b"corpus-accuracy-key")


def scan(dataset: Dataset, *, keys: bool, settings: DetectorSettings | None = None) -> dict:
    """The scan report of ``dataset``, with its subject keys when ``keys`` (one worker: a few thousand rows)."""
    return scan_table(
        dataset.table,
        name=dataset.name,
        subject_keys=dataset.subject_keys if keys else (),
        as_of=AS_OF,
        hasher=_HASHER,
        workers=1,
        settings=settings,
    ).report


def counts(report: dict) -> Counts:
    return Counts(
        report["subjects"]["personal"],
        report["subjects"]["sensitive"],
        {name: entry["subjects"] for name, entry in report["categories"].items()},
    )


@dataclass
class Score:
    """Cells of one entity class: found and right, found, truly there."""

    hits: int = 0
    found: int = 0
    true: int = 0

    @property
    def precision(self) -> float:
        return self.hits / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.true if self.true else 1.0

    def add(self, other: Score) -> None:
        self.hits, self.found, self.true = self.hits + other.hits, self.found + other.found, self.true + other.true


def _found_rows(dataset: Dataset, detector: Detector) -> dict[tuple[str, str], set[int]]:
    """(column, entity class) -> rows where the detectors found an entity of that class."""
    by_entity = {entity: cls for cls, entities in CLASSES.items() for entity in entities}
    plans: dict = {}
    found: dict[tuple[str, str], set[int]] = {}
    for batch in read.table_batches(dataset.table, name=dataset.name):
        for leaf in batch.columns:
            if leaf.name not in plans:
                plans[leaf.name] = detector.plan(leaf.name, leaf.values.type, leaf.values.slice(0, SAMPLE_VALUES))
            detected = detector.detect(plans[leaf.name], leaf.values, AS_OF)
            rows = detected.rows if leaf.rows is None else leaf.rows[detected.rows]
            for row, hits in zip(rows.tolist(), detected.per_row(), strict=True):
                for cls in {by_entity[hit.entity] for hit in hits if hit.entity in by_entity}:
                    found.setdefault((leaf.name, cls), set()).add(batch.row_offset + row)
    return found


def scores(dataset: Dataset, detector: Detector) -> dict[str, Score]:
    """Per entity class, over the cells of ``dataset``: a class found in a cell the truth does not label with
    it is a false positive."""
    truth = {(column, cls): rows for column, classes in dataset.truth.labels.items() for cls, rows in classes.items()}
    found = _found_rows(dataset, detector)
    out = {cls: Score() for cls in CLASSES}
    for key in set(truth) | set(found):
        true, got = truth.get(key, set()), found.get(key, set())
        out[key[1]].add(Score(len(true & got), len(got), len(true)))
    return out
