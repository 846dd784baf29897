"""Reading exports: every supported source becomes the same flattened Arrow batches, streamed."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from export_gate.errors import InputError
from export_gate.reading.read import fingerprint, read_batches, resolve, table_batches

IDS = ["0012345", "11010519491231002X", "11010519491231002x"]


def _columns(batches: list) -> dict[str, list]:
    """Leaf name -> all values across batches (in order)."""
    out: dict[str, list] = {}
    for batch in batches:
        for leaf in batch.columns:
            out.setdefault(leaf.name, []).extend(leaf.values.to_pylist())
    return out


def test_csv_reads_every_column_as_text_keeping_leading_zeros_and_x(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("id,amount\n" + "".join(f"{value},00{i}\n" for i, value in enumerate(IDS)), encoding="utf-8")
    columns = _columns(list(read_batches([str(path)])))
    assert columns == {"id": IDS, "amount": ["000", "001", "002"]}


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_gbk_csv_is_detected(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "gbk.csv"
    rows = "".join(f"张三{i},北京市朝阳区建国路{i}号,患者出现皮疹\n" for i in range(200))
    path.write_bytes(("姓名,地址,备注\n" + rows).encode(encoding))
    columns = _columns(list(read_batches([str(path)])))
    assert list(columns) == ["姓名", "地址", "备注"]
    assert columns["姓名"][7] == "张三7" and columns["地址"][199] == "北京市朝阳区建国路199号"


def test_named_encoding_is_used(tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_bytes("姓名\n王芳\n".encode("gb18030"))
    assert _columns(list(read_batches([str(path)], encoding="gb18030"))) == {"姓名": ["王芳"]}


def test_quoted_newlines_in_csv_cells_stay_in_one_row(tmp_path: Path) -> None:
    path = tmp_path / "text.csv"
    path.write_text('id,note\n1,"line one\nline two"\n2,plain\n', encoding="utf-8")
    assert _columns(list(read_batches([str(path)])))["note"] == ["line one\nline two", "plain"]


def test_parquet_and_jsonl_and_batches_with_offsets(tmp_path: Path) -> None:
    table = pa.table({"phone": [f"138{i:08d}" for i in range(1000)], "n": list(range(1000))})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=300)
    (tmp_path / "b.jsonl").write_text("".join(f'{{"phone": "139{i:08d}"}}\n' for i in range(10)), encoding="utf-8")
    batches = list(read_batches([str(tmp_path)], batch_rows=256))
    parquet = [b for b in batches if b.source.endswith("a.parquet")]
    assert all(b.num_rows <= 256 for b in batches)
    assert sum(b.num_rows for b in parquet) == 1000
    offsets = [b.row_offset for b in parquet]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert [b.row_offset + b.num_rows for b in parquet][-1] == 1000
    jsonl = [b for b in batches if b.source.endswith("b.jsonl")]
    assert _columns(jsonl) == {"phone": [f"139{i:08d}" for i in range(10)]}
    for batch in parquet:  # values line up with row offsets
        phone = next(leaf for leaf in batch.columns if leaf.name == "phone").values
        assert phone[0].as_py() == f"138{batch.row_offset:08d}"


def test_jsonl_field_null_in_the_first_lines_then_text(tmp_path: Path) -> None:
    lines = ['{"a": null, "b": {"c": null}}\n'] * 50_000 + ['{"a": "13812345678", "b": {"c": "x"}}\n']
    path = tmp_path / "late.ndjson"
    path.write_text("".join(lines), encoding="utf-8")
    columns = _columns(list(read_batches([str(path)])))
    assert columns["a"][-1] == "13812345678" and columns["b.c"][-1] == "x"
    assert len(columns["a"]) == 50_001


def test_nested_columns_are_flattened_with_parent_rows() -> None:
    table = pa.table(
        {
            "customer": [{"name": "张三", "phone": "13812345678"}, None, {"name": "李四", "phone": None}],
            "contacts": [[{"mobile": "13900000001"}, {"mobile": "13900000002"}], [], [{"mobile": "13900000003"}]],
            "attrs": pa.array(
                [[("wechat", "w1")], None, [("qq", "q1"), ("email", "a@b.cn")]],
                type=pa.map_(pa.string(), pa.string()),
            ),
            "tags": [["a"], ["b", "c"], None],
        }
    )
    (batch,) = list(table_batches(table.slice(0, 3), name="nested"))
    leaves = {leaf.name: leaf for leaf in batch.columns}
    assert set(leaves) == {"customer.name", "customer.phone", "contacts[].mobile", "attrs{key}", "attrs{}", "tags[]"}
    assert leaves["customer.phone"].values.to_pylist() == ["13812345678", None, None]
    assert leaves["customer.phone"].rows is None
    assert leaves["contacts[].mobile"].rows.tolist() == [0, 0, 2]
    assert leaves["attrs{}"].values.to_pylist() == ["w1", "q1", "a@b.cn"]
    assert leaves["attrs{}"].rows.tolist() == [0, 2, 2]
    assert leaves["attrs{key}"].values.to_pylist() == ["wechat", "qq", "email"]


def test_lists_of_lists_map_to_the_outer_row_even_in_a_later_slice() -> None:
    table = pa.table({"x": [[["a"]], [["b", "c"], ["d"]], [], [["e"]]]})
    batches = list(table_batches(table, batch_rows=2))
    second = batches[1]
    (leaf,) = second.columns
    assert leaf.name == "x[][]" and second.row_offset == 2
    assert leaf.values.to_pylist() == ["e"] and leaf.rows.tolist() == [1]
    first = batches[0].columns[0]
    assert first.values.to_pylist() == ["a", "b", "c", "d"] and first.rows.tolist() == [0, 1, 1, 1]


def test_table_inputs_pandas_reader_and_batch_size() -> None:
    frame = pd.DataFrame({"mobile": [f"186{i:08d}" for i in range(10)], "age": range(10)})
    batches = list(table_batches(frame, name="frame", batch_rows=4))
    assert [b.num_rows for b in batches] == [4, 4, 2]
    assert [b.row_offset for b in batches] == [0, 4, 8]
    assert batches[0].source == "frame"
    reader = pa.Table.from_pandas(frame).to_reader()
    assert sum(b.num_rows for b in table_batches(reader)) == 10


def test_mixed_type_pandas_column_is_an_input_error() -> None:
    frame = pd.DataFrame({"mixed": pd.Series([1, "13812345678", 2.5], dtype=object)})
    with pytest.raises(InputError, match=r"<table>: column 'mixed'") as error:
        list(table_batches(frame))
    assert "13812345678" not in str(error.value)


def test_resolve_folders_globs_and_urls(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ["a.csv", "sub/b.parquet", "sub/c.jsonl", "_SUCCESS", ".hidden.csv", "sub/_committed"]:
        (tmp_path / name).write_text("x\n1\n")
    found = resolve([str(tmp_path)])
    assert [Path(p).name for p in found] == ["a.csv", "b.parquet", "c.jsonl"]
    assert [Path(p).name for p in resolve([str(tmp_path / "**" / "*.jsonl")])] == ["c.jsonl"]
    assert [Path(p).name for p in resolve([str(tmp_path / "*")])] == ["a.csv", "b.parquet", "c.jsonl"]
    direct = str(tmp_path / "a.csv")
    assert resolve([direct, direct]) == [direct]
    assert [Path(p).name for p in resolve([f"file://{tmp_path}/sub"])] == ["b.parquet", "c.jsonl"]


def test_a_file_the_gate_cannot_read_in_a_folder_stops_it(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "customers.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"holds .*customers\.xlsx, which the gate cannot read"):
        resolve([str(tmp_path)])
    with pytest.raises(InputError, match=r"customers\.xlsx, which the gate cannot read"):
        resolve([str(tmp_path / "*")])


def test_named_format_reads_every_file_in_the_folder(tmp_path: Path) -> None:
    for part in range(2):
        (tmp_path / f"part-0000{part}").write_text(f"mobile\n1380000000{part}\n", encoding="utf-8")
    (tmp_path / "_SUCCESS").write_text("")
    assert _columns(list(read_batches([str(tmp_path)], fmt="csv"))) == {"mobile": ["13800000000", "13800000001"]}


def test_memory_url_is_read_through_fsspec() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/export-gate-test/part-0.csv", "手机号\n13812345678\n".encode())
    fs.pipe("/export-gate-test/part-1.csv", "手机号\n+86 139 0000 0000\n".encode())
    try:
        names = resolve(["memory://export-gate-test"])
        assert names == ["memory:///export-gate-test/part-0.csv", "memory:///export-gate-test/part-1.csv"]
        columns = _columns(list(read_batches(["memory://export-gate-test"])))
        assert columns == {"手机号": ["13812345678", "+86 139 0000 0000"]}
        assert fingerprint(["memory://export-gate-test/part-0.csv"]).startswith("sha256:")
    finally:
        fs.rm("/export-gate-test", recursive=True)


def test_fingerprint_changes_with_any_byte_and_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id\n1\n2\n")
    first = fingerprint([str(path)])
    assert first == fingerprint([str(path)]) and len(first) == len("sha256:") + 64
    path.write_text("id\n1\n3\n")
    assert fingerprint([str(path)]) != first


def test_binary_columns_pass_through_as_binary(tmp_path: Path) -> None:
    """Binary columns are handed to the detectors unchanged (they decode UTF-8 where it decodes and judge
    biometric templates by the column name); the reader neither drops nor decodes them."""
    table = pa.table({"face_template": pa.array([b"\x89PNG\x00\x01", b"13812345678"], type=pa.binary())})
    pq.write_table(table, tmp_path / "bio.parquet")
    (batch,) = list(read_batches([str(tmp_path / "bio.parquet")]))
    (leaf,) = batch.columns
    assert leaf.name == "face_template" and pa.types.is_binary(leaf.values.type)
    assert leaf.values.to_pylist()[1] == b"13812345678"


def test_reading_is_streamed_not_loaded(tmp_path: Path) -> None:
    """Batches arrive before the file is exhausted: a large CSV yields many bounded batches."""
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("a,b\n")
        for start in range(0, 200_000, 10_000):
            handle.write("".join(f"{i},x{i}\n" for i in range(start, start + 10_000)))
    sizes = [b.num_rows for b in read_batches([str(path)], batch_rows=10_000)]
    assert sum(sizes) == 200_000 and max(sizes) <= 10_000 and len(sizes) >= 20
    rows = np.concatenate([b.columns[0].values.to_numpy(zero_copy_only=False) for b in read_batches([str(path)])])
    assert rows[-1] == "199999"


def test_jsonl_dates_stay_text_and_may_turn_into_free_text(tmp_path: Path) -> None:
    path = tmp_path / "dates.jsonl"
    path.write_text('{"birth": "2015-03-01"}\n' * 3 + '{"birth": "unknown"}\n', encoding="utf-8")
    assert _columns(list(read_batches([str(path)]))) == {"birth": ["2015-03-01"] * 3 + ["unknown"]}


def test_parquet_and_glob_through_an_fsspec_url() -> None:
    fs = fsspec.filesystem("memory")
    for part in range(2):
        buffer = pa.BufferOutputStream()
        pq.write_table(pa.table({"id": [f"{part}-{i}" for i in range(3)], "tags": [["a"], [], ["b", "c"]]}), buffer)
        fs.pipe(f"/export-gate-glob/part-{part}.parquet", buffer.getvalue().to_pybytes())
    fs.pipe("/export-gate-glob/notes.csv", b"x\n1\n")
    try:
        batches = list(read_batches(["memory://export-gate-glob/*.parquet"]))
        assert [b.source for b in batches] == [
            "memory:///export-gate-glob/part-0.parquet",
            "memory:///export-gate-glob/part-1.parquet",
        ]
        assert _columns(batches)["id"] == ["0-0", "0-1", "0-2", "1-0", "1-1", "1-2"]
        assert batches[1].columns[1].name == "tags[]" and batches[1].columns[1].rows.tolist() == [0, 2, 2]
    finally:
        fs.rm("/export-gate-glob", recursive=True)


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.bz2", ".jsonl.gz"])
def test_compressed_text_exports(tmp_path: Path, suffix: str) -> None:
    rows = [("0012345", "张三"), ("11010519491231002x", "李四")] * 5000
    if ".csv" in suffix:
        text = "id,name\n" + "".join(f"{i},{n}\n" for i, n in rows)
    else:
        text = "".join(f'{{"id": "{i}", "name": "{n}"}}\n' for i, n in rows)
    compress = gzip.compress if suffix.endswith(".gz") else bz2.compress
    (tmp_path / f"export{suffix}").write_bytes(compress(text.encode("gb18030" if ".csv" in suffix else "utf-8")))
    assert [Path(p).name for p in resolve([str(tmp_path)])] == [f"export{suffix}"]
    columns = _columns(list(read_batches([str(tmp_path)])))
    assert columns == {"id": [i for i, _ in rows], "name": [n for _, n in rows]}


def test_compressed_csv_through_fsspec_and_a_ragged_line_in_it() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/export-gate-gz/a.csv.gz", gzip.compress(b"a,b\n1,2\n3\n"))
    try:
        with pytest.raises(InputError, match=r"a\.csv\.gz: line 3 has 1 fields but the header has 2"):
            list(read_batches(["memory://export-gate-gz/a.csv.gz"]))
    finally:
        fs.rm("/export-gate-gz", recursive=True)


def test_compressed_parquet_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.parquet.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(InputError, match=r"x\.parquet\.gz: a compressed Parquet file"):
        list(read_batches([str(tmp_path / "x.parquet.gz")]))


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("姓名\n王芳\n", "gbk"),
        ("姓名,手机\n张三,13812345678\n", "gb18030"),
        ("备注\n患者出现皮疹\n", "gbk"),
        ("姓名\n陳大文\n", "big5"),
        ("name\ncafé crème\n", "cp1252"),
    ],
)
def test_short_files_in_legacy_encodings_are_detected(tmp_path: Path, text: str, encoding: str) -> None:
    """charset-normalizer alone reads the first three as Korean cp949 or UTF-16: a silent misread would hide
    the names from the detectors, so detection is limited to the encodings Chinese systems write."""
    path = tmp_path / "short.csv"
    path.write_bytes(text.encode(encoding))
    header, value = text.strip().split("\n")
    assert _columns(list(read_batches([str(path)])))[header.split(",")[0]] == [value.split(",")[0]]
