"""Bad input (issue 2 §6): every case is one InputError line naming the file (and column or line) and what to
do; never a traceback, never a hang, never a raw cell value in the message."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.errors import InputError
from export_gate.reading.read import ReadLimits, read_batches, table_batches

CANARY = "11010519491231002X"


def _error(paths: list[str], **options: object) -> str:
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        for _ in read_batches(paths, **options):
            pass
    assert time.monotonic() - started < 20, "bad input must fail fast, not hang"
    message = str(caught.value)
    assert "\n" not in message and CANARY not in message
    return message


def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.parquet")
    assert _error([missing]) == f"{missing}: no such file or folder; check the path"


def test_empty_folder_and_glob_without_matches(tmp_path: Path) -> None:
    assert "holds no Parquet, CSV or JSON Lines files" in _error([str(tmp_path)])
    assert "matches no" in _error([str(tmp_path / "*.csv")])


def test_unknown_extension_and_format(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert "cannot tell the format" in _error([str(path)])
    assert "unknown format 'xlsx'" in _error([str(path)], fmt="xlsx")


def test_unknown_protocol() -> None:
    assert "protocol is unknown" in _error(["nosuchproto://bucket/a.csv"])


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "empty.jsonl"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert _error([str(path)]) == f"{path}: the file is empty (0 bytes); re-export it or leave it out"


def test_corrupt_and_truncated_parquet(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1" + b"\x00" * 200)
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": [CANARY] * 1000}), good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[:-40])
    for path in (garbage, truncated):
        assert _error([str(path)]) == f"{path}: not a readable Parquet file (corrupt or truncated); re-export it"


def test_corrupt_page_inside_a_valid_parquet_footer(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": [f"{CANARY}{i}" for i in range(5000)]}), good, compression="snappy")
    data = bytearray(good.read_bytes())
    for i in range(100, 400):
        data[i] ^= 0x5A
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    assert "bad.parquet: not a readable Parquet file" in _error([str(bad)])


def test_csv_in_the_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(("姓名,身份证号\n" + f"张三,{CANARY}\n" * 10).encode("gbk"))
    message = _error([str(path)], encoding="utf-8")
    assert message.startswith(f"{path}: text is not valid utf-8")
    assert "--encoding gb18030" in message


def test_csv_that_turns_into_another_encoding_later(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    head = "name,id\n" + "ok,1\n" * 300_000
    path.write_bytes(head.encode() + f"张三,{CANARY}\n".encode("gbk"))
    message = _error([str(path)])
    assert "late.csv: text is not valid utf-8" in message and "column 'name'" in message


def test_csv_with_ragged_rows_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(f'name,id,note\na,{CANARY},"two\nlines"\nb,{CANARY}\nc,1,x\n', encoding="utf-8")
    message = _error([str(path)])
    assert message == (
        f"{path}: line 4 has 2 fields but the header has 3; fix the separators or quoting there, or export as Parquet"
    )


def test_csv_with_a_quote_never_closed_keeps_the_rest_in_view(tmp_path: Path) -> None:
    """Like the csv module, pyarrow reads an unclosed quote to the end of the file as one cell: nothing is lost
    from the scan (the cell is still checked, and over the size limit it is an error)."""
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,"never closed\n' + f"{CANARY},x\n" * 1000, encoding="utf-8")
    (batch,) = list(read_batches([str(path)]))
    assert batch.num_rows == 1 and batch.columns[1].values[0].as_py().count(CANARY) == 1000
    path.write_text('a,b\n1,"never closed\n' + f"{CANARY},x\n" * 100_000, encoding="utf-8")
    assert "column 'b' row 1 holds a text cell" in _error([str(path)])


def test_ten_megabyte_cell_names_column_and_row(tmp_path: Path) -> None:
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("id,note\n1,short\n2," + "x" * 10_000_000 + "\n", encoding="utf-8")
    message = _error([str(csv_path)])
    assert message.startswith(f"{csv_path}: column 'note' row 2 holds a text cell of 10,000,000 bytes")
    parquet_path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"doc": ["a", "b", "y" * 10_000_000]}), parquet_path)
    assert "column 'doc' row 3 holds a text cell" in _error([str(parquet_path)])


def test_large_cell_under_a_raised_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"doc": ["y" * 2_000_000]}), path)
    limits = ReadLimits(max_text_cell_bytes=4 << 20)
    assert sum(b.num_rows for b in read_batches([str(path)], limits=limits)) == 1


def test_binary_cell_over_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "blob.parquet"
    pq.write_table(pa.table({"photo": pa.array([b"\x00" * 100, b"\xff" * 3000], type=pa.binary())}), path)
    message = _error([str(path)], limits=ReadLimits(max_binary_cell_bytes=1000))
    assert "column 'photo' row 2 holds a binary cell" in message


def test_five_thousand_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    header = ",".join(f"c{i}" for i in range(5000))
    path.write_text(header + "\n" + "\n".join(",".join(["1"] * 5000) for _ in range(20)) + "\n", encoding="utf-8")
    message = _error([str(path)])
    assert message.startswith(f"{path}: more than 4096 columns")
    started = time.monotonic()
    (batch,) = list(read_batches([str(path)], limits=ReadLimits(max_columns=5000)))
    assert len(batch.columns) == 5000 and batch.num_rows == 20
    assert time.monotonic() - started < 10


def test_deeply_nested_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"a":' * 3000 + f'"{CANARY}"' + "}" * 3000 + "\n", encoding="utf-8")
    message = _error([str(path)])
    assert message.startswith(f"{path}: column 'a.a.a") and "nested more than 32 levels" in message


def test_deeply_nested_parquet_and_table(tmp_path: Path) -> None:
    array: pa.Array = pa.array([CANARY])
    for _ in range(40):
        array = pa.StructArray.from_arrays([array], names=["k"])
    table = pa.table({"root": array})
    pq.write_table(table, tmp_path / "deep.parquet")
    assert "root.k.k" in _error([str(tmp_path / "deep.parquet")])
    with pytest.raises(InputError, match=r"^<table>: column 'root\.k\.k.*nested more than 32 levels"):
        list(table_batches(table))


def test_json_field_with_two_types(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(f'{{"id": "{CANARY}"}}\n{{"id": 13812345678}}\n', encoding="utf-8")
    assert _error([str(path)]) == (
        f"{path}: field '/id' holds both string and number values; give it one JSON type or export as Parquet"
    )


def test_malformed_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(f'{{"id": "{CANARY}"}}\n{{"id": \n', encoding="utf-8")
    assert _error([str(path)]).startswith(f"{path}: cannot be read as jsonl")


def test_a_bad_file_in_a_folder_is_named(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["1"]}), tmp_path / "a.parquet")
    (tmp_path / "b.csv").write_bytes(b"")
    assert _error([str(tmp_path)]).startswith(f"{tmp_path / 'b.csv'}: the file is empty")


def test_oversized_cell_in_a_dictionary_column_and_inside_a_list() -> None:
    large = "z" * 2_000_000
    categorical = pa.table({"note": pa.array(["a", large, "a"]).dictionary_encode()})
    with pytest.raises(InputError, match=r"^<table>: column 'note' row 2 holds a text cell of 2,000,000 bytes"):
        list(table_batches(categorical))
    nested = pa.table({"items": [["a"], ["b", large]]})
    with pytest.raises(InputError, match=r"^<table>: column 'items\[\]' row 2 holds a text cell"):
        list(table_batches(nested))


def test_utf8_csv_named_as_gbk_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "utf8.csv"
    path.write_text(f"姓名,身份证号\n张三,{CANARY}\n", encoding="utf-8")
    assert _error([str(path)], encoding="gbk") == (
        f"{path}: the text is UTF-8 but gbk was named; leave the encoding out or name utf-8"
    )


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.binary(), pa.string_view(), pa.binary_view()])
def test_oversized_cell_is_found_in_the_batch_that_holds_it(kind: pa.DataType) -> None:
    """Batches are slices of one array: the size check reads each slice's own cells, whatever the layout."""
    text = kind in (pa.string(), pa.large_string(), pa.string_view())
    large = "z" * 2_000_000 if text else b"z" * 20_000_000  # over the limit for text (1 MiB) or binary (16 MiB)
    short = "a" if text else b"a"
    batches = table_batches(pa.table({"note": pa.array([short, short, short, large, short], kind)}), batch_rows=2)
    assert next(batches).num_rows == 2  # rows 1-2: every cell short, though the array's buffer holds the large one
    over = r"^<table>: column 'note' row 4 holds a (text cell of 2|binary cell of 20),000,000 bytes"
    with pytest.raises(InputError, match=over):
        next(batches)
