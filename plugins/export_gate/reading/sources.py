"""Where an export's rows come from, as the gate sees them: files (paths, folders, globs, fsspec URLs), an
in-memory pandas/Arrow table, or a stream of chunks (a SQL query). Each source knows how to scan itself, what to
call itself in the audit record, and how to fingerprint its content.

The Airflow adapters (``from_airflow``) turn what a DAG author passes to the operator (strings, an
``ObjectStoragePath``, an ``Asset``, a table from an upstream task, or a SQL query through a connection) into one of
these. Airflow is imported only inside them, so the CLI never loads it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from export_gate.errors import ConfigError, InputError

#: Rows per chunk when a SQL result is streamed into the scan: flat memory, few round trips.
SQL_CHUNK_ROWS = 50_000


class ExportSource(Protocol):
    """What the gate needs from a source."""

    @property
    def uris(self) -> tuple[str, ...]:
        """Names for the audit record (paths, URLs, ``sql:<conn>``); never row content."""
        ...

    def scan(self, **options: Any) -> Any:
        """Scan every row; ``options`` are scan_batches' keywords (subject_keys, as_of, hasher, settings).
        The result's report carries the source fingerprint for the audit record."""
        ...


@dataclass(frozen=True)
class PathSource:
    """Files, folders, globs or fsspec URLs, read by export_gate.reading.read."""

    paths: tuple[str, ...]
    fmt: str | None = None
    encoding: str | None = None

    @property
    def uris(self) -> tuple[str, ...]:
        return self.paths

    def scan(self, **options: Any) -> Any:
        from export_gate.engine.local import scan_paths

        return scan_paths(list(self.paths), fmt=self.fmt, encoding=self.encoding, **options)


@dataclass(frozen=True)
class TableSource:
    """A pandas DataFrame or Arrow table already in memory (e.g. returned by an upstream task)."""

    data: Any
    name: str = "<table>"

    @property
    def uris(self) -> tuple[str, ...]:
        return (self.name,)

    def scan(self, **options: Any) -> Any:
        from export_gate.engine.local import scan_table

        return scan_table(self.data, name=self.name, **options)


@dataclass(frozen=True)
class ChunkSource:
    """A stream of tables (pandas or Arrow), e.g. a SQL result fetched chunk by chunk; memory stays flat.

    ``chunks`` is called once per scan. The fingerprint identifies the query (``identity``), not the rows:
    hashing the rows would mean running the query twice, and its result may differ the second time.
    """

    chunks: Callable[[], Iterable[Any]]
    name: str
    identity: str

    @property
    def uris(self) -> tuple[str, ...]:
        return (self.name,)

    def scan(self, **options: Any) -> Any:
        from export_gate.engine.local import scan_batches

        return scan_batches(
            _renumbered_batches(self.chunks(), self.name),
            files=[self.name],
            source_fingerprint="sha256:" + hashlib.sha256(self.identity.encode()).hexdigest(),
            **options,
        )


def _renumbered_batches(chunks: Iterable[Any], name: str) -> Iterator[Any]:
    """The batches of every chunk, with row offsets that continue across chunks, so row N of the whole
    result keeps one identity (rows without a strong identifier count as one person each)."""
    from export_gate.reading.read import table_batches

    offset = 0
    for chunk in chunks:
        rows = 0
        for batch in table_batches(chunk, name=name):
            yield dataclasses.replace(batch, row_offset=offset + batch.row_offset)
            rows = batch.row_offset + batch.num_rows
        offset += rows


def is_table(value: object) -> bool:
    """True for a pandas DataFrame or an Arrow table / record batch reader (checked without importing pandas)."""
    kind = type(value)
    return (kind.__module__.split(".")[0], kind.__name__) in {
        ("pandas", "DataFrame"),
        ("pyarrow", "Table"),
        ("pyarrow", "RecordBatchReader"),
    }


def from_airflow(
    source: Any = None,
    *,
    sql: str | None = None,
    conn_id: str | None = None,
    sql_parameters: Any = None,
    chunk_rows: int = SQL_CHUNK_ROWS,
    fmt: str | None = None,
    encoding: str | None = None,
    name: str | None = None,
) -> ExportSource:
    """The source the operator was given, after templating and XCom resolution.

    ``source`` may be a path or URL string, a list of them, an ``ObjectStoragePath``, an ``Asset`` (its URI),
    or a pandas/Arrow table from an upstream task. Or give ``sql`` and ``conn_id`` to stream a query through the
    connection's common-sql hook.
    """
    if sql is not None:
        if source is not None:
            raise ConfigError("give the gate either a source or a sql query with conn_id, not both")
        if not conn_id:
            raise ConfigError("a sql source needs conn_id: the Airflow connection to run the query on")
        return sql_source(sql, conn_id=conn_id, parameters=sql_parameters, chunk_rows=chunk_rows)
    if source is None:
        raise ConfigError("the gate has no source: pass source=<paths, URL, asset or table> or sql= with conn_id=")
    if is_table(source):
        return TableSource(source, name=name or "<upstream table>")
    items = source if isinstance(source, list | tuple) else [source]
    return PathSource(tuple(_location(item) for item in items), fmt=fmt, encoding=encoding)


def _location(item: Any) -> str:
    """A path or URL string for one source item: a string, an os.PathLike, an ObjectStoragePath or an Asset."""
    if isinstance(item, str):
        return item
    uri = getattr(item, "uri", None)
    if isinstance(uri, str) and type(item).__name__ in {"Asset", "Dataset"}:
        return _asset_location(uri)
    protocol = getattr(item, "protocol", None)
    if protocol is not None:  # ObjectStoragePath / universal_pathlib
        protocol = protocol if isinstance(protocol, str) else protocol[0]
        return item.path if protocol in {"file", "local", ""} else str(item)
    if hasattr(item, "__fspath__"):
        return str(item.__fspath__())
    raise ConfigError(
        f"the gate cannot read a source of type {type(item).__name__}: give paths, URLs, an ObjectStoragePath, "
        "an Asset, or a pandas/Arrow table"
    )


def _asset_location(uri: str) -> str:
    """An Asset URI as a readable location: ``file:///x`` becomes ``/x``; other schemes stay fsspec URLs."""
    return uri.removeprefix("file://") if uri.startswith("file:///") else uri


def sql_source(sql: str, *, conn_id: str, parameters: Any = None, chunk_rows: int = SQL_CHUNK_ROWS) -> ChunkSource:
    """A SQL query streamed through the connection's common-sql hook in chunks of ``chunk_rows`` rows."""

    def chunks() -> Iterator[Any]:
        from airflow.providers.common.sql.hooks.sql import DbApiHook
        from airflow.sdk import BaseHook

        hook = BaseHook.get_connection(conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise InputError(f"connection '{conn_id}' is not a SQL connection (its hook is {type(hook).__name__})")
        yield from hook.get_df_by_chunks(sql, parameters, chunksize=chunk_rows)

    return ChunkSource(chunks, name=f"sql:{conn_id}", identity=f"{conn_id}\n{sql}")
