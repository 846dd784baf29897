"""The Spark engine: the local engine's scan, run where a data lake's tables live.

The same detector core and the same per-batch code as ``engine.local`` (``scan_batch``), on Spark's executors:

* plan: the first ``SAMPLE_VALUES`` rows are planned on an executor (``Detector.plan``); the plans (no values:
  a kind, a reason, regexes) and the executors' detector version come back to the driver;
* detect: ``mapInArrow`` hands each partition's Arrow batches to ``scan_batch``; what leaves an executor is one
  row per identifier digest (the digest, its batch person's canonical digest, the person's mask) and one
  pickled ``Tally`` per partition (counts per column, plans' kinds and reasons, masked examples if asked for).
  Raw values never leave the executors;
* people: counted in Spark, from one shuffle of those rows by digest. Each partition's Python worker sorts its
  rows in numpy and reduces them to one node per distinct digest (the OR of its masks, its smallest canonical
  digest) and, without subject keys, one linking edge per other canonical digest a digest had (an identifier
  shared by people of different batches): no Spark aggregation, join or sort runs over every digest, and the
  nodes are the one frame kept (memory, else local disk). With subject keys, a person is a key digest. Without,
  the edges (mostly none or few) form the linking graph, whose connected components are found in one executor
  task with the local engine's array union-find when it is small (the usual case), else as DataFrame operations
  (large-star / small-star, Kiveris et al. 2014); a node's person is the label of its smallest canonical digest
  (broadcast to the tasks when few), the smallest digest of the person, as the local engine labels people.
  GraphFrames is not used: its jar comes from Maven, which a locked-down cluster may not reach;
* the people stay in Spark: one shuffle by person into partitions of about ``STREAM_DIGESTS`` digests, each made
  a table of whole people (``ExportSubjects``) by its Python worker and kept (a local checkpoint), their counts
  per mask sent to the driver for the report and decision; the ledger reads the tables when the gate reserves,
  one partition at a time (``toLocalIterator``, ``model.SubjectBatches``), so the driver never holds them all;
  the report, decision, reservation and audit record are then the local engine's (``engine.local.finish`` and
  ``gate.run_gate``).

Where Spark runs: ``master`` is ``local[N]`` / ``local[*]`` (the embedded default: pyspark's own jars in this
environment), a cluster master URL (``spark://``, ``yarn``), a Spark Connect URL (``sc://host:15002``), or
spark-submit's own in a gate it started (engine/submit.py). Executors must import this package (same version:
the detector version is checked) with its dependencies: the same environment locally; on a cluster an installed
wheel, or the package shipped from the driver (engine/ship.py) (README: "Running on Spark").
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from export_gate.detection.detect import ColumnPlan, Detector, DetectorSettings
from export_gate.engine.local import SAMPLE_VALUES, Job, Partial, ScanResult, finish, key_values, scan_batch
from export_gate.errors import ConfigError, GateError, InputError
from export_gate.model import ExportSubjects, SubjectBatches, mask_histogram
from export_gate.people.digest import SubjectHasher, digest_order, run_starts
from export_gate.people.partitions import INDEX
from export_gate.people.subjects import STRONG_IDENTIFIERS, identified_by
from export_gate.people.union import components as union_components
from export_gate.people.union import labelled_batches, unique_digests
from export_gate.reading import read
from export_gate.reading.flatten import flatten
from export_gate.reading.names import ColumnNames
from export_gate.reporting.report import Tally

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: The master of the embedded engine: local Spark on every core of this machine.
LOCAL_MASTER = "local[*]"
#: The largest heap ``session`` gives embedded Spark's JVM on its own (``embedded_heap``).
EMBEDDED_HEAP_MAX = 4 << 30
#: Set in the environment of a Python driver that spark-submit started (it names the JVM's gateway port).
SUBMITTED = "PYSPARK_GATEWAY_PORT"
#: Spark's readers by format name; a file's format is taken from its suffix unless given.
FORMATS = ("parquet", "orc", "csv", "json")
_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".orc": "orc",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}
#: What executors send back: per identifier (its digest's two 64-bit words, those of its batch person's canonical
#: digest, the person's mask at canonical entries, else 0), or (only ``tally`` set) a partition's pickled
#: (detector version, Tally, row count and hash sums). Digest words are stored as signed longs with the top bit
#: flipped (``_signed``), so Spark's long order is the digests' byte order: the people shuffle, group and sort as
#: fixed-width longs (Spark's hash aggregation and sort prefixes) instead of binary strings.
FOUND_SCHEMA = "h long, l long, rh long, rl long, mask smallint, tally binary"
_FOUND = pa.schema(
    [
        ("h", pa.int64()),
        ("l", pa.int64()),
        ("rh", pa.int64()),
        ("rl", pa.int64()),
        ("mask", pa.int16()),
        ("tally", pa.binary()),
    ]
)
#: Per distinct identifier digest, after the shuffle by digest (``_nodes_partition``): a node (its words, its
#: smallest canonical digest's, the OR of its masks) or, with ``edge`` set, a link from another canonical digest it
#: had (h, l) to that smallest one (rh, rl); the tally rows pass through (only ``tally`` set); one row per partition
#: counts its nodes and edges (only ``nodes`` and ``edges`` set).
NODES_SCHEMA = "h long, l long, rh long, rl long, mask smallint, edge boolean, tally binary, nodes long, edges long"
_NODES = pa.schema(
    [
        *list(_FOUND)[:5],
        pa.field("edge", pa.bool_()),
        _FOUND.field("tally"),
        ("nodes", pa.int64()),
        ("edges", pa.int64()),
    ]
)
#: ``ExportSubjects``' columns in a table's rows, and their types.
_TABLE_COLUMNS = (("high", np.uint64), ("low", np.uint64), ("roots", INDEX), ("masks", np.uint16))
#: The people, one table of whole people per partition (``_table_partition``): ``ExportSubjects``' columns as their
#: raw bytes in rows of ``STREAM_ROW`` digests, the last row with the table's people and their pickled {mask: people}.
TABLES_SCHEMA = "high binary, low binary, roots binary, masks binary, people long, histogram binary"
_TABLES = pa.schema(
    [
        *(pa.field(name, pa.binary()) for name, _ in _TABLE_COLUMNS),
        pa.field("people", pa.int64()),
        pa.field("histogram", pa.binary()),
    ]
)
#: Flipping a 64-bit word's top bit maps unsigned order onto signed order (and back).
_SIGN = np.uint64(1 << 63)
#: The row hash columns the scan's input carries for the source fingerprint (dropped before detection).
_ROW_HASHES = ("__export_gate_row_xxhash64", "__export_gate_row_murmur3")
#: Rows of the export per partition of the people's shuffle (``_partitions``): a CRM export has about 2.8 digest rows
#: of 42 bytes per row, so partitions of ~60 MB that one Python worker sorts and reduces in numpy.
SHUFFLE_ROWS = 500_000
#: Identifier digests per partition of the people the driver streams to the ledger (``toLocalIterator`` fetches a
#: partition, one table, at a time, and the next while the ledger takes one): 256k digests are about 6 MB as a table (9
#: MB pickled), whatever the export's size. A partition is one task result, which local mode passes through the heap: at
#: 1M digests a partition, 10M rows on local[2] lost one (``TaskResultLost``) with the default 1 GiB heap.
STREAM_DIGESTS = 1 << 18
#: Identifier digests per row of a table of people (1.4 MB): the JVM pickles each row whole on its way to the driver.
STREAM_ROW = 1 << 16
#: Linking edges up to this many are labelled in one task (``components``): 4M edges are 128 MB of digest words.
ONE_TASK_EDGES = 1 << 22
#: Linked digests' labels up to this many go to every task of the label join (a broadcast: ~100 MB of the driver's
#: heap at 1M); more are joined by a shuffle of the people.
BROADCAST_LABELS = 1 << 20
#: Connected components' labels: each node (a digest's words) and its component's smallest node.
LABELS_SCHEMA = "u struct<h: bigint, l: bigint>, label struct<h: bigint, l: bigint>"
#: Large-star / small-star rounds before the gate gives up (each at least halves the depth of the forest; a
#: table of 10^9 identifiers needs a few dozen).
MAX_ROUNDS = 64
#: The SQL settings a scan's session gets (``session``). Measured on a 1M-row CRM export on local[2] with Java
#: Flight Recorder: without the last four, the executor threads' CPU fell by a quarter (11.2 to 8.2 s):
SCAN_SETTINGS = {
    # Arrow batches of the local engine's size: the same per-batch work (and memory) on every executor
    "spark.sql.execution.arrow.maxRecordsPerBatch": str(read.BATCH_ROWS),
    # no byte cap on those batches: under one (Spark 4's default is 64 MB), the JVM measures the Arrow batch it is
    # filling after every row, a walk over all its vectors (16% of the JVM's samples); the row cap above
    # bounds a batch as the local engine's reader bounds its batches (2147483647 is Spark's "no cap")
    "spark.sql.execution.arrow.maxBytesPerBatch": "2147483647",
    # the kept nodes (``_kept``) are random digest words: Spark's cache would sample every column for an encoding
    # (dictionary, run length) that never pays (9% of the JVM's samples); its per-batch statistics, which let the
    # tally's read skip the node batches, stay
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # a shuffle's order-independent checksum (a hash of every row, and a full retry of the next stage when a
    # retried map task's rows differ) guards stages whose output can change on a retry; every stage of a scan is
    # a function of its input rows (the detectors, keyed digests, sorted reductions), so it never fires here;
    # the executor threads' CPU fell by 6% without it
    "spark.sql.shuffle.orderIndependentChecksum.enabled": "false",
    "spark.sql.shuffle.orderIndependentChecksum.enableFullRetryOnMismatch": "false",
}
#: Python exceptions of this package carry a message written for people (and never a raw value): when one
#: stops an executor, the gate's error repeats it.
_GATE_ERROR = re.compile(r"export_gate\.errors\.(\w+): ([^\n]+)")
#: What a Python worker says when the executors' environment lacks this package.
_NOT_INSTALLED = "No module named 'export_gate'"


# --- where Spark runs ------------------------------------------------------------------------------------


def session(master: str | None = None, *, ship_package: bool = False) -> SparkSession:
    """The Spark session for ``master`` (``sc://...`` is Spark Connect). Without one: spark-submit's master and
    settings in a gate that spark-submit started (engine/submit.py), else ``local[*]``.

    A local session starts executors with this environment's Python (``PYSPARK_PYTHON``), which has the
    detectors and pyarrow; Spark's UI stays off (it would open a port on an Airflow worker); its JVM gets a heap
    from the machine's memory unless the user set one (``embedded_heap``). Every session, a cluster's or a Spark
    Connect server's too, gets a scan's SQL settings (``SCAN_SETTINGS``). ``ship_package``:
    the executors get this package's code from the driver (engine/ship.py) instead of their own install."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "the Spark engine needs pyspark: install export-gate with its 'spark' extra (pip install "
            "'export-gate[spark]'), or use --engine local"
        ) from exc
    submitted = master is None and SUBMITTED in os.environ
    master = master or LOCAL_MASTER
    if submitted:
        spark = SparkSession.builder.getOrCreate()  # the master, executors and Python spark-submit was given
    elif master.startswith("sc://"):
        spark = SparkSession.builder.remote(master).getOrCreate()
    else:
        # pyspark marks a process that opened a Spark Connect session as Connect-only (its functions then build
        # Connect expressions); a classic session asked for afterwards must clear the mark
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(master).appName("export-gate")
        if master.startswith("local"):
            cores = re.fullmatch(r"local\[(\d+)(,\d+)?\]", master)
            shuffle = int(cores.group(1)) if cores else os.cpu_count() or 1  # one per core: few tasks, small data
            builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
            builder = builder.config("spark.sql.shuffle.partitions", shuffle)
            # the driver is the executor: a task result over 1 MB (Spark's default) would leave the task through the
            # block manager and be fetched back from it; at 10M rows on local[2] (default 1 GiB heap) one of the
            # people's stream was lost that way (TaskResultLost). A stream partition (~9 MB pickled) comes directly
            builder = builder.config("spark.task.maxDirectResultSize", "64m")
            from pyspark import SparkContext

            heap = embedded_heap(os.environ, _physical_memory())
            if heap and SparkContext._gateway is None:  # the JVM's heap is set when it starts, never after
                builder = builder.config("spark.driver.memory", heap)
        spark = builder.getOrCreate()
    for key, value in SCAN_SETTINGS.items():
        spark.conf.set(key, value)
    if ship_package:
        from export_gate.engine.ship import ship

        ship(spark)
    return spark


def embedded_heap(environ: Mapping[str, str], memory: int) -> str | None:
    """The heap of an embedded (local mode) Spark's one JVM, which is the driver and every executor: an eighth of
    the machine's ``memory`` (bytes), at least Spark's default 1 GiB and at most ``EMBEDDED_HEAP_MAX``; None when
    the user set the driver's memory (``SPARK_DRIVER_MEMORY``, or spark-submit's options in
    ``PYSPARK_SUBMIT_ARGS``). Why: at 10M rows, with the people on local disk and the stream in 9 MB partitions,
    local[2] still ran out of the 1 GiB default (a task result of the stream could not be allocated after the
    shuffles), and the gate failed closed; Spark must be told before its JVM starts."""
    submit = environ.get("PYSPARK_SUBMIT_ARGS", "")
    if environ.get("SPARK_DRIVER_MEMORY") or "driver-memory" in submit or "spark.driver.memory" in submit:
        return None
    return f"{min(max(memory // 8, 1 << 30), EMBEDDED_HEAP_MAX) >> 20}m"


def _physical_memory() -> int:
    """This machine's memory in bytes (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def master_of_connection(conn: Any) -> str:
    """The master URL an Airflow connection names: a ``spark_connect`` connection (host, port 15002, login as
    the user, password as the token, extra ``use_ssl``) becomes ``sc://host:port/;...``; any other type's host
    is the master itself (``local[2]``, ``spark://host:7077``, ``yarn``, or an ``sc://`` URL)."""
    host = (conn.host or "").strip()
    if not host:
        raise ConfigError(
            f"the Spark connection '{conn.conn_id}' has no host: set it to a master URL (local[*], spark://..., "
            "yarn) or, with type spark_connect, the Spark Connect server's host name"
        )
    if conn.conn_type not in ("spark_connect", "spark-connect") or host.startswith(("sc://", "local")):
        if conn.port and host.startswith(("spark://", "sc://")) and host.count(":") == 1:
            return f"{host}:{conn.port}"
        return host
    extra = conn.extra_dejson or {}
    params = [f"user_id={conn.login}"] if conn.login else []
    if conn.password:
        params.append(f"token={conn.password}")
    if str(extra.get("use_ssl", "")).lower() in ("1", "true", "yes"):
        params.append("use_ssl=true")
    url = f"sc://{host}:{conn.port or 15002}"
    return url + ("/;" + ";".join(params) if params else "")


def airflow_source(
    source: Any,
    *,
    table: str | None,
    fmt: str | None,
    encoding: str | None,
    conn_id: str | None,
    ship_package: bool = False,
) -> SparkSource:
    """The source of ``ExportGateOperator(engine="spark")``: paths (a string, a list of them, an ObjectStoragePath)
    or a table name, on the master ``conn_id``'s Airflow connection names (local Spark without one)."""
    master = None
    if conn_id:
        from airflow.sdk import BaseHook

        master = master_of_connection(BaseHook.get_connection(conn_id))
    items = [] if source is None else list(source) if isinstance(source, list | tuple) else [source]
    paths = tuple(str(item) for item in items)
    return SparkSource(paths, table=table, fmt=fmt, encoding=encoding, master=master, ship_package=ship_package)


# --- the source ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkSource:
    """Files Spark reads (Parquet, ORC, CSV, JSON Lines on any filesystem it knows) or a table of its catalog,
    scanned on Spark. An ``ExportSource`` for the gate. ``ship_package``: see ``session``."""

    paths: tuple[str, ...] = ()
    table: str | None = None
    fmt: str | None = None
    encoding: str | None = None
    master: str | None = None
    ship_package: bool = False

    def __post_init__(self) -> None:
        if bool(self.paths) == bool(self.table):
            raise ConfigError("give the Spark engine either paths or a table name (--table db.t), not both or none")
        if self.fmt is not None and _format_name(self.fmt) not in FORMATS:
            raise ConfigError(f"Spark reads {', '.join(FORMATS)} (or jsonl), not {self.fmt!r}")

    @property
    def uris(self) -> tuple[str, ...]:
        return self.paths or (f"table:{self.table}",)

    def scan(self, **options: Any) -> ScanResult:
        """Scan on Spark; ``options`` are ``scan_frame``'s keywords (``workers`` and ``progress`` of the local
        engine are Spark's business here and are ignored)."""
        options.pop("workers", None)
        options.pop("progress", None)
        spark = session(self.master, ship_package=self.ship_package)
        return scan_frame(self.frame(spark), files=list(self.uris), header_line=self.format == "csv", **options)

    @property
    def format(self) -> str | None:
        """Spark's reader for the paths (given, else by suffix); None for a table."""
        if self.table:
            return None
        return _format_name(self.fmt) if self.fmt else _format_of(self.paths)

    def frame(self, spark: SparkSession) -> DataFrame:
        """The export as a DataFrame. CSV is read with its header and every column as text (as the local engine
        reads it: identifiers keep leading zeros and a trailing X)."""
        fmt = self.format  # mixed suffixes: an InputError of its own
        try:
            if fmt is None:
                return spark.table(self.table)
            reader = spark.read.format(fmt)
            if fmt == "csv":
                # enforceSchema off: every file's header is checked against the first's (Spark would otherwise
                # drop the first line of each file, a data row in a file without a header)
                reader = reader.option("header", True).option("multiLine", True).option("enforceSchema", False)
                reader = reader.option("encoding", self.encoding or "UTF-8")
            return reader.load(list(self.paths))
        except Exception as exc:
            what = f"table {self.table}" if self.table else ", ".join(self.paths)
            raise InputError(
                f"Spark cannot read {what} ({_spark_error_class(exc)}); check the name or path, its format "
                "(--input-format) and that the Spark cluster can reach it"
            ) from None


def _format_name(fmt: str) -> str:
    return "json" if fmt == "jsonl" else fmt


def _format_of(paths: Sequence[str]) -> str:
    """The one format of ``paths`` by suffix (compression suffixes aside); a folder is read as Parquet, the usual
    layout of a lake table."""
    found = set()
    for path in paths:
        name = re.sub(r"\.(gz|bz2|zst|snappy|lz4)$", "", path.rstrip("/").lower())
        found.add(_SUFFIXES.get(os.path.splitext(name)[1], "parquet"))
    if len(found) > 1:
        raise InputError(
            f"the paths mix formats ({', '.join(sorted(found))}); gate each format separately or pass --input-format"
        )
    return found.pop()


# --- the scan --------------------------------------------------------------------------------------------


def scan_frame(
    frame: DataFrame,
    *,
    as_of: date,
    hasher: SubjectHasher,
    subject_keys: Sequence[str] = (),
    settings: DetectorSettings | None = None,
    show_examples: bool = False,
    files: Sequence[str] = (),
    header_line: bool = False,
) -> ScanResult:
    """Scan every cell of a DataFrame on Spark and count its people (see the module docstring). Any failure on
    an executor raises a GateError (the gate blocks): the local engine's errors keep their message.
    ``header_line``: the column names came from a CSV header line (one holding personal data is refused)."""
    settings = settings or DetectorSettings()
    keys = tuple(dict.fromkeys(subject_keys))
    job = Job(hasher=hasher, as_of=as_of, subject_keys=keys, settings=settings, show_examples=show_examples)
    detector = Detector(settings)
    version = detector.version
    cached: list[DataFrame] = []
    try:
        _check_names(frame, job, detector, source=", ".join(files) or "<frame>", header_line=header_line)
        plans = _plans(frame, job, version)
        scan = functools.partial(_scan_partition, plans=plans, job=job)
        found = _with_row_hashes(frame).mapInArrow(scan, FOUND_SCHEMA)
        # one shuffle of the executors' rows, by digest: each partition holds every row of its digests
        by_digest = found.repartition(_partitions(frame), "h", "l")
        tally, hashes, subjects = _people(by_digest, identified_by(keys), version, cached)
    except GateError:
        raise
    except Exception as exc:
        raise _executor_error(exc) from None
    finally:
        for frame_kept in cached:
            frame_kept.unpersist()
    fingerprint = "spark-rows:sha256:" + hashlib.sha256(f"{hashes}|{frame.schema.simpleString()}".encode()).hexdigest()
    return finish(Partial(tally, subjects), job, version, files=files, source_fingerprint=fingerprint)


def _check_names(frame: DataFrame, job: Job, detector: Detector, *, source: str, header_line: bool) -> None:
    """The local engine's checks of column names, on the driver from the frame's schema before any job runs:
    a CSV header holding personal data is refused (``ColumnNames``), and the subject keys must be top-level
    columns of one value per row (``key_values``), with the same errors, which list names as the scan records
    them (a name holding personal data withheld). The executors withhold such names the same way (``_screened``)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    empty = pa.RecordBatch.from_pylist([], schema=to_arrow_schema(frame.schema))
    batch = _screened(empty, source, 0, ColumnNames(detector, job.hasher, job.as_of), header_line=header_line)
    key_values(batch, job.subject_keys)


def _screened(
    record_batch: pa.RecordBatch, source: str, offset: int, names: ColumnNames, *, header_line: bool = False
) -> read.Batch:
    """An Arrow batch as the local engine's ``Batch``: flattened, its column names checked (reading/names.py)."""
    leaves = flatten(record_batch, source=source, row_offset=offset, limits=read.DEFAULT_LIMITS)
    return names.screened(read.Batch(source, offset, leaves, record_batch.num_rows, header_line=header_line))


def _executor_error(exc: BaseException) -> GateError:
    """The gate's error for a failed Spark job: the export_gate error an executor raised (its message is safe),
    else only the kind of failure (a Python traceback from an executor may quote a cell)."""
    text = str(exc)
    match = _GATE_ERROR.search(text)
    if match:
        from export_gate import errors

        kind = getattr(errors, match.group(1), GateError)
        kind = kind if isinstance(kind, type) and issubclass(kind, GateError) else GateError
        return kind(f"on a Spark executor: {match.group(2).strip()}")
    if _NOT_INSTALLED in text:
        return ConfigError(
            "the Spark executors cannot import export_gate; nothing was counted. Install the same export-gate wheel "
            "in the executors' Python, or ship it from here (--spark-ship-package, spark_ship_package=True; README: "
            "Running on Spark)"
        )
    return GateError(
        f"the Spark job failed ({_spark_error_class(exc)}); nothing was counted. The executors' logs say why; "
        "fix the cause and run the gate again"
    )


def _spark_error_class(exc: BaseException) -> str:
    """An exception's type and Spark error class (e.g. PATH_NOT_FOUND), never its message."""
    getter = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    condition = None
    if callable(getter):
        try:
            condition = getter()
        except Exception:
            condition = None
    return f"{type(exc).__name__}: {condition}" if condition else type(exc).__name__


def _plans(frame: DataFrame, job: Job, version: str) -> dict[str, ColumnPlan]:
    """Each leaf column's plan, made on an executor from the first ``SAMPLE_VALUES`` rows (as the local engine
    plans from the first batch holding the column). The executors' detector version must be the driver's: a
    cluster with another export-gate installed would count by other rules."""
    sample = _first_rows(frame).coalesce(1)
    rows = sample.mapInArrow(functools.partial(_plan_partition, job=job), "plans binary").collect()
    plans: dict[str, ColumnPlan] = {}
    for row in rows:
        executor_version, planned = pickle.loads(row.plans)
        _check_version(executor_version, version)
        plans.update(planned)
    return plans


def _first_rows(frame: DataFrame) -> DataFrame:
    """The sample that plans the columns: the first ``SAMPLE_VALUES`` rows of the first file in name order when the
    frame reads files (the local engine's sample), else the first rows Spark gives."""
    from pyspark.sql import functions as F

    try:
        files = sorted(frame.inputFiles())
    except Exception:  # not a file source (a view, a JDBC table): Spark's first rows
        files = []
    if len(files) > 1:
        first = files[0]  # a URI; Spark's metadata column writes file:/x where the listing has file:///x
        spellings = {first, "file:/" + first.removeprefix("file:///")} if first.startswith("file:///") else {first}
        frame = frame.where(F.col("_metadata.file_path").isin(*sorted(spellings)))
    return frame.limit(SAMPLE_VALUES)


def _check_version(executor_version: str, version: str) -> None:
    if executor_version != version:
        raise ConfigError(
            f"the Spark executors run detector version {executor_version}, this gate {version}: install the same "
            "export-gate wheel on the cluster (README: Running on Spark)"
        )


def _with_row_hashes(frame: DataFrame) -> DataFrame:
    """The frame with two 64-bit hashes of each row (xxHash64 and Murmur3, computed in Spark's JVM) as its last
    columns. The executors add them up (modulo 2**64) beside the scan: the source fingerprint covers the rows'
    content whatever their order or partitioning, and no file is read twice or on the driver."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType

    columns = [
        F.to_json(F.col(f"`{field.name}`")) if isinstance(field.dataType, MapType) else F.col(f"`{field.name}`")
        for field in frame.schema.fields
    ] or [F.lit(None)]
    return frame.select(
        "*",
        F.xxhash64(*columns).alias(_ROW_HASHES[0]),
        F.hash(*columns).cast("long").alias(_ROW_HASHES[1]),
    )


def _tally(nodes: DataFrame, version: str) -> tuple[Tally, tuple[int, int, int], int, int]:
    """The merged per-column tallies of every detection partition (one small row each), the rows' count and hash
    sums, and how many nodes and edges the kept nodes (``_people``) hold; the first action on them, so this is where
    the detection job runs (and an executor's failure surfaces) and where every partition of them is kept."""
    from pyspark.sql import functions as F

    tally, rows, xx, murmur, nodes_count, edges_count = Tally(), 0, 0, 0, 0, 0
    for row in nodes.where(F.col("h").isNull()).select("tally", "nodes", "edges").toLocalIterator():
        if row.tally is None:  # a partition's counts
            nodes_count, edges_count = nodes_count + row.nodes, edges_count + row.edges
            continue
        executor_version, part, (part_rows, part_xx, part_murmur) = pickle.loads(row.tally)
        _check_version(executor_version, version)
        tally.merge(part)
        rows, xx, murmur = rows + part_rows, (xx + part_xx) % 2**64, (murmur + part_murmur) % 2**64
    return tally, (rows, xx, murmur), nodes_count, edges_count


# --- on the executors ------------------------------------------------------------------------------------


@functools.cache
def _detector(settings: DetectorSettings) -> Detector:
    """One detector per settings and Python worker (Spark reuses its workers across tasks)."""
    return Detector(settings)


def _plan_partition(batches: Iterator[pa.RecordBatch], job: Job) -> Iterator[pa.RecordBatch]:
    """Plans of every leaf column from the sample's batches: a column is planned from the first batch holding it."""
    detector = _detector(job.settings)
    names = ColumnNames(detector, job.hasher, job.as_of)
    plans: dict[str, ColumnPlan] = {}
    offset = 0
    for record_batch in batches:
        for leaf in _screened(record_batch, "sample", offset, names).columns:
            if leaf.name not in plans:
                plans[leaf.name] = detector.plan(leaf.name, leaf.values.type, leaf.values.slice(0, SAMPLE_VALUES))
        offset += record_batch.num_rows
    yield pa.RecordBatch.from_pydict({"plans": [pickle.dumps((detector.version, plans))]})


def _scan_partition(
    batches: Iterator[pa.RecordBatch], plans: dict[str, ColumnPlan], job: Job
) -> Iterator[pa.RecordBatch]:
    """``scan_batch`` over one partition's Arrow batches: its people as digest rows, then its tally. Rows that
    hold nobody's identifier are named by the partition and their place in it, like a file's rows locally."""
    from pyspark import TaskContext

    context = TaskContext.get()
    source = f"spark-partition-{context.partitionId() if context is not None else 0}"
    detector = _detector(job.settings)
    names = ColumnNames(detector, job.hasher, job.as_of)
    tally, offset, sums = Tally(), 0, [0, 0]
    for hashed in batches:
        for i, name in enumerate(_ROW_HASHES):
            sums[i] = (sums[i] + int(pc.sum(hashed.column(name)).as_py() or 0)) % 2**64
        record_batch = hashed.drop_columns(list(_ROW_HASHES))
        batch = _screened(record_batch, source, offset, names)
        missing = [leaf.name for leaf in batch.columns if leaf.name not in plans]
        if missing:
            raise InputError(f"{source}: columns {', '.join(missing)} were not in the planned sample")
        part = scan_batch(batch, {leaf.name: plans[leaf.name] for leaf in batch.columns}, job, detector)
        tally.merge(part.tally)
        offset += record_batch.num_rows
        if len(part.subjects.roots):
            yield _people_rows(part.subjects)
    pickled = pa.array([pickle.dumps((detector.version, tally, (offset, *sums)))], pa.binary())
    empty = [pa.nulls(1, field.type) for field in _FOUND if field.name != "tally"]
    yield pa.RecordBatch.from_arrays([*empty, pickled], schema=_FOUND)


def _people_rows(subjects: ExportSubjects) -> pa.RecordBatch:
    """One row per identifier digest of a batch's people: the digest, its person's canonical digest, the mask."""
    high, low = _signed(subjects.high), _signed(subjects.low)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(high),
            pa.array(low),
            pa.array(high[subjects.roots]),
            pa.array(low[subjects.roots]),
            pa.array(subjects.masks.astype(np.int16)),
            pa.nulls(len(high), pa.binary()),
        ],
        schema=_FOUND,
    )


def _signed(words: np.ndarray) -> np.ndarray:
    """Unsigned 64-bit digest words as the signed longs Spark orders alike (top bit flipped)."""
    return (words.astype(np.uint64) ^ _SIGN).view(np.int64)


def _unsigned(column: pa.ChunkedArray) -> np.ndarray:
    """A column of signed longs (``_signed``) back as the unsigned digest words."""
    return column.to_numpy().view(np.uint64) ^ _SIGN


# --- people, in Spark ------------------------------------------------------------------------------------


def _people(
    by_digest: DataFrame, how: str, version: str, cached: list[DataFrame]
) -> tuple[Tally, tuple[int, int, int], SubjectBatches]:
    """The partitions' tallies and the export's people from the executors' digest rows (partitioned by digest),
    counted in Spark and kept there for the ledger to stream (``_tables``).

    Each partition's rows are reduced to one row per distinct digest in its Python worker (``_nodes_partition``):
    the OR of its masks and the smallest canonical digest it had in its batches. With subject keys every digest is
    its own person. Without, a digest that had several canonical digests (an identifier shared by people of
    different batches) links them: one edge from each other canonical digest to the smallest; the edges, mostly
    none or few, form the linking graph (``components``). A person's label is the label of its digests' smallest
    canonical digest (the digest itself when it is in no edge): the smallest canonical digest of a component is its
    person's smallest digest, as the local engine labels people."""
    from pyspark.sql import functions as F

    # on local disk: written as it is made (memory would first build each partition in the heap, which in local
    # mode is the executors' too: 10M rows on local[2] ran out of a 1 GiB heap there), and read in order
    nodes_all = _kept(
        by_digest.mapInArrow(functools.partial(_nodes_partition, linking=how == STRONG_IDENTIFIERS), NODES_SCHEMA),
        cached,
        disk=True,
    )
    tally, hashes, size, edges = _tally(nodes_all, version)  # the first action: detection, shuffle and nodes
    nodes = nodes_all.where(F.col("h").isNotNull() & ~F.col("edge")).select("h", "l", "rh", "rl", "mask")
    if edges:
        linked = nodes_all.where(F.col("edge")).select(
            F.struct("h", "l").alias("u"), F.struct(F.col("rh").alias("h"), F.col("rl").alias("l")).alias("v")
        )
        labels = _kept(components(linked, count=edges), cached)
        flat = labels.select(
            F.col("u.h").alias("rh"),
            F.col("u.l").alias("rl"),
            F.col("label.h").alias("lh"),
            F.col("label.l").alias("ll"),
        )
        # the usual case: the labels go to every task and the nodes stay put; else a sort-merge join (it spills)
        flat = F.broadcast(flat) if labels.count() <= BROADCAST_LABELS else flat.hint("merge")
        nodes = nodes.join(flat, ["rh", "rl"], "left").select(
            "h", "l", F.coalesce("lh", "rh").alias("rh"), F.coalesce("ll", "rl").alias("rl"), "mask"
        )
    return tally, hashes, _tables(nodes, how, size)


def _nodes_partition(batches: Iterator[pa.RecordBatch], linking: bool) -> Iterator[pa.RecordBatch]:
    """One partition of the executors' rows (all rows of each of its digests): the tally rows as they are, then one
    node row per distinct digest (the OR of its masks; its smallest canonical digest, the digest itself with
    ``linking`` off) and, with ``linking``, an edge row from each other canonical digest a digest had to that
    smallest one. Sorted and reduced in numpy, so no Spark aggregation, join or sort runs over every digest."""
    parts: list[pa.RecordBatch] = []
    for batch in batches:
        tallies = pc.is_valid(batch.column("tally"))
        if pc.any(tallies).as_py():
            kept = batch.filter(tallies)
            yield _only(kept.num_rows, tally=kept.column("tally"))
            batch = batch.filter(pc.invert(tallies))
        if batch.num_rows:
            parts.append(batch)
    table = pa.Table.from_batches(parts) if parts else _FOUND.empty_table()
    del parts
    high, low, rh, rl = (table.column(name).to_numpy() for name in ("h", "l", "rh", "rl"))
    mask = table.column("mask").fill_null(0).to_numpy()
    del table
    order = digest_order(high, low)  # each digest's rows together (the signed words order as the digests do)
    high, low, rh, rl, mask = high[order], low[order], rh[order], rl[order], mask[order]
    del order
    starts = np.flatnonzero(run_starts(high, low))
    masks = np.bitwise_or.reduceat(mask, starts).astype(np.int16) if len(starts) else mask[:0].astype(np.int16)
    node_h, node_l = high[starts], low[starts]
    root_h, root_l = (rh[starts], rl[starts]) if linking else (node_h, node_l)
    edges: list[np.ndarray] = [np.zeros(0, np.int64)] * 4
    if linking and len(starts):
        # a digest whose rows name several canonical digests: the smallest is its root, the others link to it
        several = np.zeros(len(starts), dtype=bool)
        for words in (rh, rl):
            several |= np.minimum.reduceat(words, starts) != np.maximum.reduceat(words, starts)
        if several.any():
            group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(high)]))
            at = np.flatnonzero(several[group])  # the rows of those digests, few
            at = at[np.lexsort((rl[at], rh[at], group[at]))]
            first = np.r_[True, group[at][1:] != group[at][:-1]]
            linked = group[at][first]
            root_h[linked], root_l[linked] = rh[at][first], rl[at][first]
            new = ~first  # a next canonical digest, different from the one before: an edge to the smallest
            new[1:] &= (rh[at][1:] != rh[at][:-1]) | (rl[at][1:] != rl[at][:-1])
            to = group[at][new]
            edges = [rh[at][new], rl[at][new], root_h[to], root_l[to]]
    yield from _chunks([node_h, node_l, root_h, root_l, masks, np.zeros(len(starts), dtype=bool)])
    yield from _chunks([*edges, np.zeros(len(edges[0]), np.int16), np.ones(len(edges[0]), dtype=bool)])
    yield _only(1, nodes=pa.array([len(starts)], pa.int64()), edges=pa.array([len(edges[0])], pa.int64()))


def _only(rows: int, **columns: pa.Array) -> pa.RecordBatch:
    """Rows of ``NODES_SCHEMA`` with only ``columns`` set."""
    arrays = [columns.get(field.name, pa.nulls(rows, field.type)) for field in _NODES]
    return pa.RecordBatch.from_arrays(arrays, schema=_NODES)


def _chunks(columns: list[np.ndarray], size: int = 1 << 16) -> Iterator[pa.RecordBatch]:
    """Node rows (h, l, rh, rl, mask, edge) as Arrow batches of at most ``size`` rows."""
    names = ("h", "l", "rh", "rl", "mask", "edge")
    for begin in range(0, len(columns[0]), size):
        arrays = [pa.array(column[begin : begin + size]) for column in columns]
        yield _only(len(arrays[0]), **dict(zip(names, arrays, strict=True)))


def _kept(frame: DataFrame, cached: list[DataFrame], *, disk: bool = False) -> DataFrame:
    """``frame`` persisted for the steps that read it again (memory, else local disk; ``disk``: on local disk
    only); ``cached`` lists it to be released when the scan ends."""
    from pyspark import StorageLevel

    cached.append(frame.persist(StorageLevel.DISK_ONLY) if disk else frame.persist())
    return frame


def _partitions(frame: DataFrame) -> int:
    """Partitions of the people's shuffle: Spark's own setting (``spark.sql.shuffle.partitions``), or more for a
    big export (one per ``SHUFFLE_ROWS`` rows: counted first, from the files' footers for Parquet and ORC), fixed
    rather than adaptive: each partition is reduced whole in one Python worker (``_nodes_partition``), so its size
    is what a worker holds (about 1.4M digest rows, 60 MB, at 500k rows of a CRM export)."""
    configured = int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions") or 200)
    return max(configured, -(-frame.count() // SHUFFLE_ROWS))


def components(edges: DataFrame, *, one_task_edges: int = ONE_TASK_EDGES, count: int | None = None) -> DataFrame:
    """Connected components of an undirected graph of digest nodes (``struct<h, l>`` of ``_signed`` words), edges
    (u, v) with v < u: each node that is not its component's smallest, with that smallest node as ``label``.

    Up to ``one_task_edges`` edges (the usual case: identifiers shared across batches are a small part of an
    export) are labelled by one Python task on an executor with the local engine's array union-find: two Spark
    jobs. A larger graph goes through ``_star_rounds``, which spread over the cluster. ``count``: the edges, if
    known. Edges may repeat."""
    if (edges.count() if count is None else count) <= one_task_edges:
        return edges.repartition(1).mapInArrow(_label_partition, LABELS_SCHEMA)
    return _star_rounds(edges.distinct())


def _label_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``components`` of every edge in this (only) partition: nodes numbered in digest order, so the smallest
    number of a component (``union.components``' label) is its smallest digest."""
    edges = list(batches)
    if not edges:
        return
    table = pa.Table.from_batches(edges)
    ends = np.concatenate([_node_words(table.column("u")), _node_words(table.column("v"))])
    nodes, index = unique_digests(ends)  # signed words: their order is the digests'
    labels = union_components(len(nodes), index[: table.num_rows], index[table.num_rows :])
    moved = np.flatnonzero(labels != np.arange(len(nodes)))
    yield pa.RecordBatch.from_arrays([_node_array(nodes[moved]), _node_array(nodes[labels[moved]])], ["u", "label"])


def _node_words(column: pa.ChunkedArray) -> np.ndarray:
    """A column of ``struct<h, l>`` nodes as (n, 2) signed longs."""
    nodes = column.combine_chunks()
    return np.column_stack([nodes.field(name).to_numpy(zero_copy_only=False) for name in ("h", "l")])


def _node_array(words: np.ndarray) -> pa.StructArray:
    return pa.StructArray.from_arrays([pa.array(words[:, 0]), pa.array(words[:, 1])], names=["h", "l"])


def _star_rounds(edges: DataFrame) -> DataFrame:
    """``components`` on Spark for graphs too large for one task.

    Most identifiers are leaves: their one edge goes to their batch person's smallest digest, and nothing hangs
    under them. Only the rest (the core: shared identifiers, people of several batches) go through the
    alternating large-star and small-star rounds, until every core node hangs directly under its component's
    smallest node; a leaf then takes the label of the node it hangs under."""
    from pyspark.sql import functions as F

    centres = edges.select(F.col("v").alias("u")).distinct()
    several = edges.groupBy("u").count().where(F.col("count") > 1).select("u")
    busy = several.unionByName(edges.select("u").join(centres, "u", "left_semi")).distinct()
    core = edges.join(busy, "u", "left_semi").localCheckpoint()
    for _ in range(MAX_ROUNDS):
        if _stars(core):
            break
        core = _small_star(_large_star(core)).localCheckpoint()
    else:
        raise GateError(f"linking people found no end after {MAX_ROUNDS} rounds of connected components")
    labels = core.select("u", F.col("v").alias("label"))
    leaves = edges.join(busy, "u", "left_anti")
    above = labels.select(F.col("u").alias("v"), F.col("label").alias("above"))
    hung = leaves.join(above, "v", "left").select("u", F.coalesce("above", "v").alias("label"))
    return labels.unionByName(hung)


def _stars(edges: DataFrame) -> bool:
    """Whether every node has at most one edge, to a node without one of its own (a forest of depth one): one
    aggregate over both ends of every edge."""
    from pyspark.sql import functions as F

    ends = edges.select(F.col("u").alias("n"), F.lit(1).alias("out"), F.lit(0).alias("into")).unionByName(
        edges.select(F.col("v").alias("n"), F.lit(0).alias("out"), F.lit(1).alias("into"))
    )
    per_node = ends.groupBy("n").agg(F.sum("out").alias("out"), F.max("into").alias("into"))
    return per_node.where((F.col("out") > 1) | ((F.col("out") == 1) & (F.col("into") == 1))).isEmpty()


def _large_star(edges: DataFrame) -> DataFrame:
    """Every node's larger neighbours hang under the smallest node of its neighbourhood (itself included)."""
    from pyspark.sql import functions as F

    both = edges.unionByName(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    lowest = both.groupBy("u").agg(F.min("v").alias("m"))
    return (
        both.join(lowest, "u")
        .where(F.col("v") > F.col("u"))
        .select(F.col("v").alias("u"), F.least(F.col("u"), F.col("m")).alias("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Every node and its smaller neighbours hang under the smallest of them."""
    from pyspark.sql import functions as F

    lowest = edges.groupBy("u").agg(F.min("v").alias("m"))
    linked = (
        edges.join(lowest, "u").where(F.col("v") != F.col("m")).select(F.col("v").alias("u"), F.col("m").alias("v"))
    )
    return linked.unionByName(lowest.select("u", F.col("m").alias("v"))).distinct()


def _tables(nodes: DataFrame, how: str, size: int) -> SubjectBatches:
    """The people (``size`` rows of digest words h, l, label words rh, rl, mask) as the ledger takes them: one
    shuffle by label into partitions of about ``STREAM_DIGESTS`` digests, each made a table of whole people in its
    Python worker (``_table_partition``: sorted, the people's masks OR-ed, checked) and kept there (a local
    checkpoint, so they outlive the scan's cached rows and are not detected again); the tables' counts per mask
    come to the driver for the report and the decision, and the tables themselves only when the ledger reads them,
    one partition at a time (``toLocalIterator``, fetching the next while the ledger takes one): the driver holds
    at most two tables, never the export's people, however many rows the export has."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    partitions = max(1, -(-size // STREAM_DIGESTS))
    # on local disk, not in the heap: read once, in order, and in local mode the heap is the executors' too
    tables = (
        nodes.repartition(partitions, "rh", "rl")
        .mapInArrow(functools.partial(_table_partition, how=how), TABLES_SCHEMA)
        .localCheckpoint(storageLevel=StorageLevel.DISK_ONLY)
    )
    histogram: dict[int, int] = {}
    people = 0
    for row in tables.where(F.col("people").isNotNull()).select("people", "histogram").collect():
        people += int(row["people"])
        for mask, count in pickle.loads(row["histogram"]).items():
            histogram[mask] = histogram.get(mask, 0) + count

    def batches() -> Iterator[ExportSubjects]:
        chunks: list[Any] = []
        # the next table is fetched while the ledger takes this one: two tables in the driver, never more
        for row in tables.select(
            "high", "low", "roots", "masks", F.col("people").isNotNull().alias("end")
        ).toLocalIterator(prefetchPartitions=True):
            chunks.append(row)
            if row["end"]:  # a table's last chunk
                yield table_of(chunks, how)
                chunks = []

    return SubjectBatches(batches(), identified_by=how, histogram=histogram, people=people)


def table_of(chunks: Sequence[Any], how: str) -> ExportSubjects:
    """The table of people whose rows of ``TABLES_SCHEMA`` (``_table_partition``) are ``chunks``, in order (Spark
    rows or dicts: anything indexed by column name)."""
    return ExportSubjects(
        *(np.frombuffer(b"".join(chunk[name] for chunk in chunks), dtype=dtype) for name, dtype in _TABLE_COLUMNS),
        how,
    )


def _table_partition(batches: Iterator[pa.RecordBatch], how: str) -> Iterator[pa.RecordBatch]:
    """One partition of labelled digests (every digest of each of its people) as one table of whole people
    (``union.labelled_batches`` checks that each person's label is their smallest digest and no digest is in two
    people): its columns' raw bytes, its people and their histogram of masks."""
    received = [batch for batch in batches if batch.num_rows]
    if not received:  # an empty partition (a small export in many partitions)
        return
    table = pa.Table.from_batches(received)
    del received
    words = np.column_stack([_unsigned(table.column(name)) for name in ("h", "l")])
    labels = np.column_stack([_unsigned(table.column(name)) for name in ("rh", "rl")])
    masks = table.column("mask").fill_null(0).to_numpy().astype(np.uint16)
    del table
    # by digest, then stably by label: (label, digest) order in two stable sorts of one word each (usually),
    # twice as fast as a lexsort of the four words
    order = digest_order(words[:, 0], words[:, 1])
    order = order[digest_order(labels[order, 0], labels[order, 1])]
    words, labels, masks = words[order], labels[order], masks[order]
    del order
    starts = np.flatnonzero(run_starts(labels[:, 0], labels[:, 1]))  # each person's first row
    held = np.zeros(len(masks), dtype=np.uint16)
    held[starts] = np.bitwise_or.reduceat(masks, starts)  # a person's mask: what any of their digests said
    for people in labelled_batches([(words, labels, held)], identified_by=how, size=len(words) + 1):
        for begin in range(0, len(people.roots), STREAM_ROW):  # rows of a few MB: Spark pickles them to the driver
            end = begin + STREAM_ROW >= len(people.roots)
            columns = {
                name: [getattr(people, name)[begin : begin + STREAM_ROW].tobytes()] for name, _ in _TABLE_COLUMNS
            }
            counts = [pickle.dumps(mask_histogram(people.masks))] if end else [None]
            yield pa.RecordBatch.from_pydict(
                {**columns, "people": [len(people) if end else None], "histogram": counts}, schema=_TABLES
            )
