"""Micro-benchmark of Detector.detect per column kind (one core), next to the floor of one RE2 pass.

    .venv/bin/python benchmarks/bench_detect.py [--rows 1000000] [--batch 65536]
    .venv/bin/python benchmarks/bench_detect.py --parquet export.parquet [--repeat 3]
    .venv/bin/python benchmarks/bench_detect.py --hostile

Prints, per column kind (or per column of a Parquet file, and for the whole file), cells per CPU-second of detect
(plan from the first 1,000 values of the first batch, then every batch, as the scan does) and of the floor (pyarrow
match_substring_regex, one RE2 pass, over the same batches of string columns). With --repeat, the best of that many
runs: CPU time still varies with what else runs on the machine. With --hostile, the CPU seconds of one remark cell
of each hostile shape (long digit runs, thousands of mobiles, deep brackets) at 1 and 2 MB and their ratio: about
2 is linear time, about 4 would be quadratic (tests check these cells are scanned correctly, not how fast). Not a
test.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from export_gate.detection.detect import Detector

AS_OF = datetime.date(2026, 6, 15)
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return rng.integers(0, 10, size=(n, width), dtype=np.uint8) + 48


def _strings(matrix: np.ndarray) -> pa.Array:
    """Rows of an ASCII byte matrix as an Arrow string array, without a Python loop."""
    n, width = matrix.shape
    offsets = pa.py_buffer(np.arange(0, (n + 1) * width, width, dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(matrix.tobytes())])


def resident_ids(rng: np.random.Generator, n: int) -> pa.Array:
    m = _digits(rng, n, 18)
    m[:, :6] = np.frombuffer(b"110105", dtype=np.uint8)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 70, n)
    m[:, 6:14] = np.array([list(d.replace("-", "").encode()) for d in np.datetime_as_string(birth)], dtype=np.uint8)
    m[:, 17] = _CHECK[((m[:, :17].astype(np.int64) - 48) @ _WEIGHTS) % 11]
    return _strings(m)


def mobiles(rng: np.random.Generator, n: int) -> pa.Array:
    m = _digits(rng, n, 11)
    m[:, 0] = ord("1")
    m[:, 1] = rng.choice(np.frombuffer(b"35789", dtype=np.uint8), n)
    return _strings(m)


def order_numbers(rng: np.random.Generator, n: int) -> pa.Array:
    """18-digit look-alikes: batch numbers whose check character is almost always wrong."""
    m = _digits(rng, n, 18)
    m[:, :4] = np.frombuffer(b"2026", dtype=np.uint8)
    return _strings(m)


def order_codes(rng: np.random.Generator, n: int) -> pa.Array:
    """Letters and digits: SO + 14 digits, like most order, SKU and policy numbers."""
    m = _digits(rng, n, 16)
    m[:, :2] = np.frombuffer(b"SO", dtype=np.uint8)
    return _strings(m)


def statuses(rng: np.random.Generator, n: int) -> pa.Array:
    return pa.array(np.array(["已发货", "待付款", "已完成", "已退款"])[rng.integers(0, 4, n)])


def chinese_text(rng: np.random.Generator, n: int) -> pa.Array:
    base = np.array(
        [
            "客户来电咨询订单物流进度，已告知预计三天内送达。",
            "用户反馈包装破损，已安排补发。",
            "患者自述服药后头晕，建议复诊。",
        ]
    )
    text = pc.binary_join_element_wise(
        pa.array(base[rng.integers(0, 3, n)]), pc.cast(pa.array(rng.integers(0, 10**6, n)), pa.string()), "编号"
    )
    phones = pc.binary_join_element_wise(text, mobiles(rng, n), "，联系电话")
    return pc.if_else(pa.array(rng.random(n) < 0.1), phones, text)


def english_text(rng: np.random.Generator, n: int) -> pa.Array:
    names = np.array(["Mary Johnson", "David Lee", "Wang Wei", "Sarah Miller"])
    text = pc.binary_join_element_wise(
        "Reporter ", pa.array(names[rng.integers(0, 4, n)]), " called about case ",
        pc.cast(pa.array(rng.integers(0, 10**6, n)), pa.string()), ".", "",
    )  # fmt: skip
    return pc.if_else(pa.array(rng.random(n) < 0.2), text, pa.array(np.full(n, "No personal data in this note.")))


def names(rng: np.random.Generator, n: int) -> pa.Array:
    surnames, given = (
        np.array(list("王李张刘陈杨黄赵吴周")),
        np.array(["伟", "芳", "娜", "敏", "静", "丽强", "磊", "军"]),
    )
    return pc.binary_join_element_wise(
        pa.array(surnames[rng.integers(0, 10, n)]), pa.array(given[rng.integers(0, 8, n)]), ""
    )


def birth_dates(rng: np.random.Generator, n: int) -> pa.Array:
    return pa.array(np.datetime64("1950-01-01") + rng.integers(0, 365 * 76, n)).cast(pa.date32())


def phone_integers(rng: np.random.Generator, n: int) -> pa.Array:
    return pc.cast(mobiles(rng, n), pa.int64())


COLUMNS: dict[str, tuple[str, Callable[[np.random.Generator, int], pa.Array], float]] = {
    # kind: (column name, generator, share of --rows)
    "resident ID": ("id_card", resident_ids, 1.0),
    "mobile": ("mobile", mobiles, 1.0),
    "mobile as int64": ("phone", phone_integers, 1.0),
    "18-digit look-alikes": ("batch_no", order_numbers, 1.0),
    "order codes (SO + digits)": ("order_no", order_codes, 1.0),
    "low-cardinality status": ("status", statuses, 1.0),
    "Chinese name": ("patient_name", names, 1.0),
    "birth date (date32)": ("birth_date", birth_dates, 1.0),
    "Chinese free text": ("remark", chinese_text, 0.25),
    "English free text + NER": ("narrative", english_text, 0.02),
}


def _floor(batches: list[pa.Array]) -> float:
    started = time.process_time()
    for batch in batches:
        if pa.types.is_string(batch.type):
            pc.match_substring_regex(batch, r"[0-9]{11}")
    return time.process_time() - started


def _best(repeat: int, run: Callable[[], object]) -> tuple[float, object]:
    """(least CPU seconds of ``repeat`` runs, the last run's result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.process_time()
        result = run()
        best = min(best, time.process_time() - started)
    return best, result


def _report(detector: Detector, label: str, column: str, batches: list[pa.Array], repeat: int) -> tuple[float, float]:
    """Print one line for a column; return (detect CPU seconds, floor CPU seconds)."""
    n = sum(len(batch) for batch in batches)
    plan = detector.plan(column, batches[0].type, batches[0].slice(0, 1000))
    if plan.ner:
        detector.detect(plan, batches[0].slice(0, 10), AS_OF)  # load spaCy outside the timing
    took, hit = _best(repeat, lambda: sum(len(detector.detect(plan, batch, AS_OF)) for batch in batches))
    floor, _ = _best(repeat, lambda: _floor(batches))
    floor_rate = f"{n / floor:14,.0f}" if floor > 0 and pa.types.is_string(batches[0].type) else f"{'-':>14}"
    print(f"{label:26} {n:9,} {n / took:15,.0f} {floor_rate} {hit:9,}  [{plan.kind}]")
    return took, floor


#: Hostile remark cells by shape, as a function of a size in bytes: what a careless regex or per-match Python loop
#: turns into minutes.
HOSTILE: dict[str, Callable[[int], str]] = {
    "digits": lambda size: "1" * size,
    "digit-dash": lambda size: "1-" * (size // 2),
    "many-mobiles": lambda size: ("13812345678 " * 10 + "x") * (size // 121),
    "brackets": lambda size: "(" * (size // 2) + "+86" + ")" * (size // 2),
    "at-signs": lambda size: "a@" * (size // 2),
}


def hostile(detector: Detector, repeat: int) -> None:
    """CPU seconds of one hostile cell per shape at 1 and 2 MB, and the ratio (linear time: about 2)."""
    print(f"{'hostile cell':26} {'1 MB CPU s':>11} {'2 MB CPU s':>11} {'ratio':>6}")
    for shape, make in HOSTILE.items():
        took = []
        for size in (1_000_000, 2_000_000):
            values = pa.array([make(size)])
            plan = detector.plan("remark", values.type, values)
            took.append(_best(repeat, functools.partial(detector.detect, plan, values, AS_OF))[0])
        print(f"{shape:26} {took[0]:11.3f} {took[1]:11.3f} {took[1] / max(took[0], 1e-9):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=65_536)
    parser.add_argument("--parquet", help="time every column of this Parquet file instead of generated kinds")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--hostile", action="store_true", help="time megabyte cells of hostile shapes instead")
    args = parser.parse_args()
    detector = Detector()
    if args.hostile:
        hostile(detector, args.repeat)
        return
    print(f"{'column':26} {'rows':>9} {'detect cells/s':>15} {'floor cells/s':>14} {'rows hit':>9}")
    if args.parquet:
        record_batches = list(pq.ParquetFile(args.parquet).iter_batches(batch_size=args.batch))
        cells, took, floor = 0, 0.0, 0.0
        for column in record_batches[0].schema.names:
            batches = [b.column(column) for b in record_batches]
            spent, floored = _report(detector, column, column, batches, args.repeat)
            cells, took, floor = cells + sum(map(len, batches)), took + spent, floor + floored
        print(f"{'whole file':26} {cells:9,} {cells / took:15,.0f}  (floor: {floor:.3f} CPU s for its string columns)")
        return
    rng = np.random.default_rng(2026)
    for kind, (column, make, share) in COLUMNS.items():
        n = max(1, int(args.rows * share))
        data = make(rng, n)
        _report(detector, kind, column, [data.slice(i, args.batch) for i in range(0, n, args.batch)], args.repeat)


if __name__ == "__main__":
    main()
