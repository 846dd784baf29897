"""Read an export as a stream of flattened Arrow record batches, whatever it is stored in.

Files (Parquet, CSV, JSON Lines) on any fsspec filesystem, or a pandas/Arrow table, become the same thing:
``Batch`` objects holding leaf columns, one batch at a time, so memory stays flat however large the export is.
Every way a file can be unreadable becomes an InputError with one line naming the file (and the column or
line where known) and what to do; the gate then fails closed. Messages never quote a cell: pyarrow's own
messages for CSV and JSON can hold raw values, so they are translated, not passed on.

CSV and JSON Lines may be compressed (``.csv.gz``, ``.jsonl.bz2``, ``.ndjson.zst``). CSV columns are all read
as text (identifiers keep leading zeros and a trailing X); JSON Lines fields that look like dates stay text.
Binary columns (Parquet, Arrow) are passed on unchanged: the detectors decode them as UTF-8 where they decode
and judge biometric templates by the column name. What the reader refuses (cells over 1 MiB of text, more
than 4,096 leaf columns, nesting deeper than 32) is set by ReadLimits.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import charset_normalizer
import fsspec
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from export_gate.errors import InputError
from export_gate.reading.flatten import LeafColumn, ReadLimits, check_depth, flatten
from export_gate.reading.watch import Watch

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_LIMITS",
    "FORMATS",
    "Batch",
    "LeafColumn",
    "ReadLimits",
    "Watch",
    "fingerprint",
    "read_batches",
    "resolve",
    "table_batches",
]

#: File extensions the gate reads, and the format each one means.
FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
#: How much of a text file is looked at to find its header, schema and encoding.
_HEAD_BYTES = 1 << 20
#: Bytes charset-normalizer looks at: enough to tell GBK from UTF-8, cheap on any file.
_SNIFF_BYTES = 1 << 16
#: pyarrow parses CSV and JSON in blocks of this size; a single line must fit in one block.
_BLOCK_BYTES = 16 << 20
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz"}
#: The encodings a CSV from a Chinese system comes in. Letting charset-normalizer choose among all it knows
#: misreads short GBK files (a header and a few names come back as Korean cp949, or as UTF-16).
_CANDIDATE_ENCODINGS = ("utf_8", "gb18030", "big5", "utf_16", "utf_32", "cp1252")
#: Compressed CSV / JSON Lines (``export.csv.gz``) are read through these codecs (Arrow's names).
COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
#: Rows per batch. Each batch is scanned whole in a worker process; 32,768 rows keep a worker near 150 MB.
#: 65,536 rows take 4-8% less CPU (fewer Arrow regex calls, each compiling its RE2 program again) but about
#: 100 MB more at 10M rows, too close to the 1 GiB a 10M-row scan must stay under.
BATCH_ROWS = 32_768
#: The limits used unless the caller passes its own.
DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class Batch:
    """A slice of one source's rows, flattened into leaf columns."""

    source: str  # the file path/URL as the user named it (for errors and the report)
    row_offset: int  # index of the batch's first row within that source
    columns: list[LeafColumn]  # flattened leaf columns
    num_rows: int
    header_line: bool = False  # the column names were read from a header line (CSV): a data row if misplaced


def resolve(paths: Sequence[str], *, fmt: str | None = None) -> list[str]:
    """Expand folders (recursively), globs and URLs into the files to read, in a stable order.

    A file named directly keeps the name the user gave; files found in a folder or by a glob are named by their
    full path or URL. Hidden files and markers such as ``_SUCCESS`` are skipped; any other file found must be
    readable (InputError otherwise: an unscanned file would leave the gate unsure what the export holds), and
    with ``fmt`` every file found is read as that format.
    """
    if fmt is not None and fmt not in FORMATS.values():
        raise InputError(f"unknown format {fmt!r}; use parquet, csv or jsonl")
    if isinstance(paths, str):
        paths = [paths]
    found: list[str] = []
    for path in paths:
        found.extend(_expand(path, fmt))
    if not found:
        raise InputError("no input given; name at least one file, folder, glob or URL")
    return list(dict.fromkeys(found))


def read_batches(
    paths: Sequence[str],
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    limits: ReadLimits = DEFAULT_LIMITS,
    watch: Watch | None = None,
) -> Iterator[Batch]:
    """Stream every row of every file as flattened batches of at most ``batch_rows`` rows.

    ``encoding`` applies to CSV only (JSON Lines and Parquet are UTF-8 by definition); without it a CSV that is
    not UTF-8 is detected with charset-normalizer, and any GB2312/GBK guess is read as GB18030 (its superset).
    Files are read lazily: an unreadable third file raises only after the first two were streamed. With a
    ``watch``, each file is checked once parsed (and when it fails to parse: a file truncated under the parser
    is reported as changed, not as corrupt).
    """
    for source in resolve(paths, fmt=fmt):
        try:
            yield from _read_source(source, _format_of(source, fmt), encoding, batch_rows, limits)
        except Exception:
            if watch is not None:
                watch.check(source)  # a change explains the failure better than the parser can
            raise
        if watch is not None:
            watch.check(source)


def table_batches(
    data: Any,
    *,
    name: str = "<table>",
    batch_rows: int = BATCH_ROWS,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Iterator[Batch]:
    """Stream an in-memory pandas DataFrame, pyarrow Table/RecordBatch or RecordBatchReader as batches."""
    offset = 0
    for record_batch in _record_batches_of(data, name):
        for piece in _pieces(record_batch, batch_rows):
            yield Batch(name, offset, flatten(piece, source=name, row_offset=offset, limits=limits), piece.num_rows)
            offset += piece.num_rows


def row_count(paths: Sequence[str], *, fmt: str | None = None) -> int | None:
    """The number of rows in the files when their footers say it without reading the data (Parquet), for a
    progress bar with a total; None when any file would have to be read through (CSV, JSON Lines) or its
    footer cannot be read (the scan then reports the problem)."""
    total = 0
    for source in resolve(paths, fmt=fmt):
        if _format_of(source, fmt) != "parquet":
            return None
        fs, path = _filesystem(source)
        try:
            with fs.open(path, "rb") as handle, pq.ParquetFile(handle) as parquet:
                total += parquet.metadata.num_rows
        except (OSError, pa.ArrowException):
            return None
    return total


def fingerprint(files: Sequence[str], *, watch: Watch | None = None) -> str:
    """``sha256:<hex>`` over each file's name, size and content, for the audit log. ``files`` as ``resolve``
    returns them (resolving again would judge each file's format by its name, whatever format the scan was told).

    Content is hashed in 1 MiB chunks (sha256 runs at about 1 GB/s, far faster than the scan), so the
    fingerprint changes when any byte of the export changes and memory stays flat. With a ``watch`` (the one the
    parser checks against), each file is checked once hashed: unchanged, the bytes hashed are the bytes parsed.
    """
    outer = hashlib.sha256()
    for source in files:
        fs, path = _filesystem(source)
        inner = hashlib.sha256()
        size = 0
        try:
            with fs.open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    inner.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise InputError(f"{source}: cannot be read ({_os_reason(exc)}); check the file and permissions") from exc
        if watch is not None:
            watch.check(source)
        outer.update(f"{source}\0{size}\0{inner.hexdigest()}\n".encode())
    return "sha256:" + outer.hexdigest()


# --- finding the files ---------------------------------------------------------------------------------------


def _filesystem(source: str) -> tuple[fsspec.AbstractFileSystem, str]:
    try:
        return fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as exc:
        raise InputError(
            f"{source}: the storage protocol is unknown or its fsspec package is not installed "
            f"({exc.__class__.__name__}); install it or use a local path"
        ) from exc


def _expand(path: str, fmt: str | None) -> list[str]:
    fs, root = _filesystem(path)
    what = {"parquet": "Parquet", "csv": "CSV", "jsonl": "JSON Lines"}.get(fmt or "", "Parquet, CSV or JSON Lines")
    if glob.has_magic(path):
        files: list[str] = []
        for match in sorted(fs.glob(root)):
            if fs.isdir(match):
                files.extend(_files_under(fs, match, fmt, path))
            elif not _hidden(match.rsplit("/", 1)[-1]):
                files.extend(_selected(fs, [match], fmt, path))
        if not files:
            raise InputError(f"{path}: the pattern matches no {what} files; check the pattern")
        return files
    if fs.isdir(root):
        files = _files_under(fs, root, fmt, path)
        if not files:
            raise InputError(f"{path}: the folder holds no {what} files; check the folder or name the format")
        return files
    if fs.exists(root):
        _format_of(path, fmt)
        return [path]
    raise InputError(f"{path}: no such file or folder; check the path")


def _files_under(fs: fsspec.AbstractFileSystem, root: str, fmt: str | None, named: str) -> list[str]:
    names = [name for name in sorted(fs.find(root)) if not _hidden(name[len(root) :])]
    return _selected(fs, names, fmt, named)


def _selected(fs: fsspec.AbstractFileSystem, names: list[str], fmt: str | None, named: str) -> list[str]:
    """Every file found is part of the export, so one the gate cannot read stops it (fail closed) unless the
    format is named, which reads them all as that format (e.g. extension-less ``part-00000`` files)."""
    unknown = [name for name in names if fmt is None and _suffix_format(name) is None]
    if unknown:
        raise InputError(
            f"{named}: holds {unknown[0]}, which the gate cannot read (not Parquet, CSV or JSON Lines); convert "
            "or move it, or name the format"
        )
    return names if isinstance(fs, LocalFileSystem) else [fs.unstrip_protocol(name) for name in names]


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.replace("\\", "/").split("/") if part)


def _suffix_format(name: str) -> str | None:
    lowered = _without_compression(name.lower())[0]
    return next((kind for suffix, kind in FORMATS.items() if lowered.endswith(suffix)), None)


def _without_compression(name: str) -> tuple[str, str | None]:
    """The name without a compression suffix, and the codec that suffix names (None when uncompressed)."""
    for suffix, codec in COMPRESSIONS.items():
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], codec
    return name, None


def _format_of(source: str, fmt: str | None) -> str:
    kind = fmt or _suffix_format(source)
    if kind is None:
        raise InputError(
            f"{source}: cannot tell the format from the file name; "
            "name it (parquet, csv or jsonl) or use .parquet, .csv or .jsonl"
        )
    return kind


# --- reading one file ----------------------------------------------------------------------------------------


def _read_source(source: str, kind: str, encoding: str | None, batch_rows: int, limits: ReadLimits) -> Iterator[Batch]:
    fs, path = _filesystem(source)
    try:
        size = fs.size(path)
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({_os_reason(exc)}); check the path and permissions") from exc
    if not size:
        raise InputError(f"{source}: the file is empty (0 bytes); re-export it or leave it out")
    codec = _without_compression(source)[1]
    if codec and kind == "parquet":
        raise InputError(f"{source}: a compressed Parquet file; Parquet compresses inside, so decompress it first")
    context = _Context(source, kind, limits, codec)
    offset = 0
    try:
        for record_batch in _READERS[kind](partial(_open, fs, path, codec), context, encoding, batch_rows):
            for piece in _pieces(record_batch, batch_rows):
                columns = flatten(piece, source=source, row_offset=offset, limits=limits)
                yield Batch(source, offset, columns, piece.num_rows, header_line=kind == "csv")
                offset += piece.num_rows
    except InputError:
        raise
    except (pa.ArrowException, OSError, UnicodeError, ValueError, IndexError) as exc:
        raise _explain(exc, fs, path, context) from exc


@dataclass
class _Context:
    """What is known about the file being read, for error messages."""

    source: str
    kind: str
    limits: ReadLimits
    codec: str | None = None
    encoding: str = "utf-8"
    columns: tuple[str, ...] = ()


_Opener = Callable[[], AbstractContextManager[Any]]


def _open(fs: fsspec.AbstractFileSystem, path: str, codec: str | None) -> AbstractContextManager[Any]:
    """Local files through Arrow's native IO (fastest), anything else through fsspec; decompressed on the fly."""
    if isinstance(fs, LocalFileSystem):
        return pa.input_stream(path, compression=codec) if codec else pa.OSFile(path, "rb")
    return fs.open(path, "rb", compression=codec)


def _read_head(opener: _Opener) -> bytes:
    """The start of a text file, cut after its last complete line (a stream of its own: compressed streams
    cannot seek back)."""
    with opener() as handle:
        head = handle.read(_HEAD_BYTES)
    if len(head) == _HEAD_BYTES and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    return head


def _parquet(opener: _Opener, context: _Context, encoding: str | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    with opener() as handle, pq.ParquetFile(handle) as parquet:
        context.columns = tuple(parquet.schema_arrow.names)
        check_depth(parquet.schema_arrow, source=context.source, limits=context.limits)
        yield from parquet.iter_batches(batch_size=batch_rows)


def _csv(opener: _Opener, context: _Context, encoding: str | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Every column as text, so identifiers keep leading zeros and a trailing X."""
    head = _read_head(opener)
    context.encoding = _named_encoding(encoding, head, context) if encoding else _detect_encoding(head, context.source)
    try:
        header = next(csv.reader(io.StringIO(head.decode(context.encoding))), [])
    except UnicodeDecodeError as exc:
        raise _wrong_encoding(context) from exc
    context.columns = tuple(name.lstrip("\ufeff") if i == 0 else name for i, name in enumerate(header))
    with opener() as handle:
        yield from pa_csv.open_csv(
            handle,
            read_options=pa_csv.ReadOptions(
                block_size=_BLOCK_BYTES, encoding="utf8" if context.encoding == "utf-8" else context.encoding
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(context.columns, pa.string()), strings_can_be_null=True
            ),
        )


def _jsonl(opener: _Opener, context: _Context, encoding: str | None, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The schema is taken from the first lines (see _as_text); fields first seen later are inferred."""
    head = _read_head(opener)
    schema = pa_json.read_json(io.BytesIO(head)).schema
    check_depth(schema, source=context.source, limits=context.limits)
    explicit = pa.schema([field.with_type(_as_text(field.type)) for field in schema])
    context.columns = tuple(explicit.names)
    with opener() as handle:
        yield from pa_json.open_json(
            handle,
            read_options=pa_json.ReadOptions(block_size=_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer"),
        )


_READERS = {"parquet": _parquet, "csv": _csv, "jsonl": _jsonl}


def _as_text(kind: pa.DataType) -> pa.DataType:
    """Fields pyarrow would guess as null or timestamp are read as text: a null-only start then text, or a
    date-looking start then free text, would otherwise fail mid-file; and dates stay as the export wrote them."""
    if pa.types.is_null(kind) or pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([field.with_type(_as_text(field.type)) for field in kind])
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_as_text(kind.value_type)))
    return kind


def _normalise_encoding(name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError as exc:
        raise InputError(f"unknown text encoding {name!r}; use e.g. utf-8 or gb18030") from exc
    return "utf-8" if canonical in ("utf-8", "utf-8-sig") else canonical


def _named_encoding(name: str, head: bytes, context: _Context) -> str:
    """The encoding the user named, unless the file is plainly UTF-8 text: reading UTF-8 as GBK raises no
    error, it turns every Chinese character into a wrong one and the detectors would see none of them."""
    encoding = _normalise_encoding(name)
    if encoding != "utf-8" and not head.isascii():
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return encoding
        raise InputError(
            f"{context.source}: the text is UTF-8 but {name} was named; leave the encoding out or name utf-8"
        )
    return encoding


def _detect_encoding(head: bytes, source: str) -> str:
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    guess = charset_normalizer.from_bytes(head[:_SNIFF_BYTES], cp_isolation=list(_CANDIDATE_ENCODINGS)).best()
    if guess is None:
        raise InputError(
            f"{source}: the text encoding cannot be recognised; name it (e.g. --encoding gb18030) or re-export as UTF-8"
        )
    name = _normalise_encoding(guess.encoding)
    return "gb18030" if name in _GB_FAMILY else name


def _record_batches_of(data: Any, name: str) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.RecordBatchReader):
        return iter(data)
    if isinstance(data, pa.Table):
        return iter(data.to_batches())
    if isinstance(data, pa.RecordBatch):
        return iter([data])
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(data, pandas.DataFrame):
        try:
            return iter(pa.Table.from_pandas(data, preserve_index=False).to_batches())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            column = re.search(r"column (.+?) with type", str(exc))
            where = f"column {column.group(1)!r} " if column else "a column "
            raise InputError(
                f"{name}: {where}mixes value types that Arrow cannot hold in one column; give it one type"
            ) from exc
    raise InputError(
        f"{name}: cannot scan a {type(data).__name__}; pass a pandas DataFrame, a pyarrow Table or a RecordBatchReader"
    )


def _pieces(record_batch: pa.RecordBatch, batch_rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, record_batch.num_rows, batch_rows):
        yield record_batch.slice(start, batch_rows)


# --- explaining failures -------------------------------------------------------------------------------------


def _explain(exc: BaseException, fs: fsspec.AbstractFileSystem, path: str, context: _Context) -> InputError:
    """One line for the person: what is wrong with which file (column, line) and what to do. No cell values."""
    source, message = context.source, str(exc)
    if isinstance(exc, OSError) and exc.errno is not None:
        return InputError(f"{source}: cannot be read ({_os_reason(exc)}); check the file and its permissions")
    if isinstance(exc, UnicodeError) or "invalid UTF8" in message:
        return _wrong_encoding(context, _csv_column(message, context))
    if "straddling" in message or "straddle" in message:
        return InputError(
            f"{source}: a line or cell is larger than {_BLOCK_BYTES >> 20} MiB (or a quote is never closed); "
            "fix the quoting or split the cell"
        )
    if context.kind == "parquet":
        return InputError(f"{source}: not a readable Parquet file (corrupt or truncated); re-export it")
    if context.kind == "csv" and "Expected" in message and "columns" in message:
        line, fields = _ragged_line(fs, path, context)
        where = f"line {line} has {fields} fields" if line else "a line has a different number of fields"
        return InputError(
            f"{source}: {where} but the header has {len(context.columns)}; "
            "fix the separators or quoting there, or export as Parquet"
        )
    changed = re.search(r"Column\((.*?)\) changed from (\w+) to (\w+)", message)
    if changed:
        column, old, new = changed.groups()
        return InputError(
            f"{source}: field {column!r} holds both {old} and {new} values; give it one JSON type or export as Parquet"
        )
    return InputError(f"{source}: cannot be read as {context.kind} ({exc.__class__.__name__}); check the file format")


def _wrong_encoding(context: _Context, column: str | None = None) -> InputError:
    where = f" (column {column!r})" if column else ""
    return InputError(
        f"{context.source}: text is not valid {context.encoding}{where}; "
        "name the file's encoding (e.g. --encoding gb18030) or re-export it as UTF-8"
    )


def _csv_column(message: str, context: _Context) -> str | None:
    number = re.search(r"CSV column #(\d+)", message)
    if number and int(number.group(1)) < len(context.columns):
        return context.columns[int(number.group(1))]
    return None


def _ragged_line(fs: fsspec.AbstractFileSystem, path: str, context: _Context) -> tuple[int | None, int]:
    """The first physical line whose record has a different number of fields than the header.

    Only runs after pyarrow rejected the file (its message quotes the row, so it cannot be shown): one
    streaming pass with the csv module, linear in the file size.
    """
    options = {"encoding": context.encoding, "errors": "replace", "newline": "", "compression": context.codec}
    with fs.open(path, "rt", **options) as text:
        reader = csv.reader(text)
        start = 1
        for number, record in enumerate(reader):
            if number and len(record) != len(context.columns):
                return start, len(record)
            start = reader.line_num + 1
    return None, 0


def _os_reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__
