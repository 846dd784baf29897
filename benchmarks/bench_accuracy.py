"""Accuracy on the independent corpus (tests/corpus: Faker-made exports shaped like Chinese enterprise tables,
with their truth). A benchmark, not a test: it prints figures; tests/test_corpus.py holds the targets.

    .venv/bin/python benchmarks/bench_accuracy.py [--rows 2000] [--seed 1] [--dataset NAME]...

Prints per entity class the cell precision and recall over all datasets, then per dataset the true distinct
people (personal, sensitive) and the scan's counts with the dataset's subject keys and without keys, each
with its error against the truth.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from corpus import CLASSES, DATASETS, generate
from corpus.measure import Score, counts, scan, scores
from export_gate.detection.detect import Detector


def _error(found: int, true: int) -> str:
    if true == 0:
        return f"{found:+d}" if found else "0"
    return f"{(found - true) / true:+.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dataset", action="append", choices=sorted(DATASETS), help="default: all")
    args = parser.parse_args()
    detector = Detector()
    totals = {cls: Score() for cls in CLASSES}
    lines = []
    for name in args.dataset or DATASETS:
        dataset = generate(name, args.rows, args.seed)
        for cls, score in scores(dataset, detector).items():
            totals[cls].add(score)
        true = dataset.truth.counts()
        row = [name, f"{true.personal}", f"{true.sensitive}"]
        for keys in (True, False):
            if keys and not dataset.subject_keys:
                row += ["-", "-"]
                continue
            got = counts(scan(dataset, keys=keys))
            row += [
                f"{got.personal} ({_error(got.personal, true.personal)})",
                f"{got.sensitive} ({_error(got.sensitive, true.sensitive)})",
            ]
        lines.append(row)
    print(f"corpus: {args.rows} rows per dataset, seed {args.seed}\n")
    print(f"{'entity class':<12} {'precision':>9} {'recall':>7} {'cells found/true':>17}")
    for cls, score in totals.items():
        if score.true or score.found:
            found_true = f"{score.found}/{score.true}"
            print(f"{cls:<12} {score.precision:>9.3f} {score.recall:>7.3f} {found_true:>17}")
    header = ["dataset", "people", "sensitive", "keys: people", "keys: sensitive", "no keys: people", "no keys: sens."]
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(len(header))]
    print()
    for row in [header, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
