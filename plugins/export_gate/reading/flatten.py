"""Turn an Arrow record batch into leaf columns, so detectors see every value inside structs, lists and maps.

Names say where a value sits: ``customer.phone`` (struct field), ``contacts[].mobile`` (field of each list
element), ``attrs{}`` (map values) and ``attrs{key}`` (map keys, which can hold personal data too). Values inside
lists carry the index of the batch row they came from, so a finding maps back to its row (and its subject).
Everything is zero-copy Arrow work (``flatten``, ``list_parent_indices``); no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from export_gate.errors import InputError


@dataclass(frozen=True)
class LeafColumn:
    """One scannable column: a leaf of the (possibly nested) schema."""

    name: str  # "a", "a.b", "items[].phone", "attrs{}"
    values: pa.Array  # the leaf values (flattened through lists)
    rows: np.ndarray | None  # for each value, the row index within the batch (None when 1:1 with rows)


@dataclass(frozen=True)
class ReadLimits:
    """What the gate refuses to read, so that a pathological export fails closed with a clear message
    instead of exhausting memory or running for hours.

    A text cell over ``max_text_cell_bytes`` cannot be analysed reliably (spaCy's NER refuses texts over
    1,000,000 characters), so it is an error rather than a silently skipped cell. Binary cells (images,
    templates) may be larger. ``max_columns`` counts leaf columns after flattening.
    """

    max_text_cell_bytes: int = 1 << 20
    max_binary_cell_bytes: int = 16 << 20
    max_columns: int = 4096
    max_depth: int = 32


#: Offset widths of the layouts whose cell lengths can be read off their offsets buffer.
_OFFSET_WIDTHS = {
    pa.string(): np.int32,
    pa.binary(): np.int32,
    pa.large_string(): np.int64,
    pa.large_binary(): np.int64,
}
_VIEWS = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string)
_BINARY_TYPES = (
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_fixed_size_binary,
)


def flatten(batch: pa.RecordBatch, *, source: str, row_offset: int, limits: ReadLimits) -> list[LeafColumn]:
    """The leaf columns of ``batch``; InputError (naming ``source`` and the column) when a limit is exceeded."""
    leaves: list[LeafColumn] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        _walk(name, column, None, 0, leaves, source, limits)
        if len(leaves) > limits.max_columns:
            raise InputError(
                f"{source}: more than {limits.max_columns} columns after flattening nested fields; "
                "split the export into narrower files or raise ReadLimits.max_columns"
            )
    for leaf in leaves:
        _check_cell_sizes(leaf, source, row_offset, limits)
    return leaves


def check_depth(schema: pa.Schema, *, source: str, limits: ReadLimits) -> None:
    """InputError when a field is nested deeper than the limit; iterative, so any depth is safe to inspect."""
    pending = [(field.name, field.type, 0) for field in schema]
    while pending:
        name, kind, depth = pending.pop()
        if depth > limits.max_depth:
            raise _too_deep(name, source, limits)
        pending.extend((f"{name}.{field.name}", field.type, depth + 1) for field in _children(kind))


def _children(kind: pa.DataType) -> list[pa.Field]:
    if pa.types.is_dictionary(kind):
        return [pa.field("", kind.value_type)]
    if isinstance(kind, pa.ExtensionType):
        return [pa.field("", kind.storage_type)]
    return [kind.field(i) for i in range(kind.num_fields)] if pa.types.is_nested(kind) else []


def _too_deep(name: str, source: str, limits: ReadLimits) -> InputError:
    return InputError(
        f"{source}: column {_head(name)} is nested more than {limits.max_depth} levels deep; "
        "flatten the structure before exporting or raise ReadLimits.max_depth"
    )


def _walk(
    name: str,
    array: pa.Array,
    rows: np.ndarray | None,
    depth: int,
    out: list[LeafColumn],
    source: str,
    limits: ReadLimits,
) -> None:
    if depth > limits.max_depth:
        raise _too_deep(name, source, limits)
    kind = array.type
    if pa.types.is_dictionary(kind) and pa.types.is_nested(kind.value_type):
        array, kind = array.dictionary_decode(), kind.value_type
    if isinstance(kind, pa.ExtensionType):
        array = array.storage
        kind = array.type
    if pa.types.is_struct(kind):
        for field, child in zip(kind, array.flatten(), strict=True):
            _walk(f"{name}.{field.name}", child, rows, depth + 1, out, source, limits)
    elif pa.types.is_map(kind):
        entries = pa.ListArray.from_arrays(array.offsets, array.values)
        values, child_rows = _list_values(entries, rows)
        keys, items = values.flatten()
        _walk(f"{name}{{key}}", keys, child_rows, depth + 1, out, source, limits)
        _walk(f"{name}{{}}", items, child_rows, depth + 1, out, source, limits)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        values, child_rows = _list_values(array, rows)
        _walk(f"{name}[]", values, child_rows, depth + 1, out, source, limits)
    else:
        out.append(LeafColumn(name, _with_offsets(array), rows))


def _with_offsets(array: pa.Array) -> pa.Array:
    """View layouts (string_view, binary_view: what polars and DuckDB hand over) as their large offset layouts:
    the string kernels the detectors use have none for views."""
    kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    if kind not in _VIEWS:
        return array
    if pa.types.is_dictionary(array.type):
        return pa.DictionaryArray.from_arrays(array.indices, array.dictionary.cast(_VIEWS[kind]))
    return array.cast(_VIEWS[kind])


def _list_values(array: pa.Array, rows: np.ndarray | None) -> tuple[pa.Array, np.ndarray]:
    """The elements of every list in ``array`` and, for each, the batch row it belongs to."""
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return array.flatten(), parents if rows is None else rows[parents]


def _longest_cell(values: pa.Array) -> int:
    """The bytes of the longest cell (a null's slot may count): from the offsets buffer where there is one,
    twenty times cheaper than a length kernel and a max, and this runs on every text column of every batch."""
    if not len(values):
        return 0
    width = _OFFSET_WIDTHS.get(values.type)
    if width is None:  # fixed-size binary
        return values.type.byte_width
    offsets = np.frombuffer(values.buffers()[1], dtype=width)[values.offset : values.offset + len(values) + 1]
    return int(np.diff(offsets).max())


def _check_cell_sizes(leaf: LeafColumn, source: str, row_offset: int, limits: ReadLimits) -> None:
    """InputError naming the column and row of the first cell over the size limit (one vectorised pass)."""
    values = leaf.values
    kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
    if any(test(kind) for test in _TEXT_TYPES):
        limit, what = limits.max_text_cell_bytes, "text"
    elif any(test(kind) for test in _BINARY_TYPES):
        limit, what = limits.max_binary_cell_bytes, "binary"
    else:
        return
    distinct = values.dictionary if pa.types.is_dictionary(values.type) else values
    if _longest_cell(distinct) <= limit:
        return
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    over = np.flatnonzero(np.nan_to_num(lengths.astype(np.float64)) > limit)
    if not len(over):  # only an unused dictionary entry is too large
        return
    index = int(over[0])
    row = int(leaf.rows[index]) if leaf.rows is not None else index
    raise InputError(
        f"{source}: column {_head(leaf.name)} row {row_offset + row + 1} holds a {what} cell of "
        f"{int(lengths[index]):,} bytes, more than the {limit:,} the gate scans; trim or split that column, "
        "or raise ReadLimits"
    )


def _head(name: str, width: int = 80) -> str:
    """A column name fit for a one-line message (names can be long or hold line breaks)."""
    name = " ".join(name.split())
    return repr(name if len(name) <= width else name[: width - 3] + "...")
