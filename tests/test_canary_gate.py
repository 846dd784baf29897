"""A planted canary ID number and phone go through `export-gate evaluate --record` and never come out: not in
the JSON or table output, not on stderr, not in the ledger and audit database, not in the HTML report."""

from __future__ import annotations

from pathlib import Path

from export_gate.commands.cli import main
from export_gate.records.ledger import Store
from export_gate.settings import home_dir, reports_dir
from gate_data import CANARY_ID, CANARY_PHONE, canary, write

ARGS = ["--list", "cn-national-2024", "--record"]  # a recording is dated by its run


def test_canary_never_leaves_the_gate(tmp_path, capsys):
    export = write(canary(), tmp_path / "customers.parquet")
    outputs = []
    for fmt in ("json", "table"):
        code = main(["evaluate", str(export), *ARGS, "--format", fmt])
        captured = capsys.readouterr()
        assert code == 0
        outputs += [captured.out, captured.err]
    records, _ = Store().audit.query(limit=10)
    assert records and sum(records[0]["report"]["columns"]["id_number"]["entities"].values()) >= 1, (
        "the canary ID was not detected: the check below would prove nothing"
    )
    places = {f"output {i}": text.encode() for i, text in enumerate(outputs)}
    places.update({f"state file {p.name}": p.read_bytes() for p in Path(home_dir()).rglob("*") if p.is_file()})
    assert len(list(reports_dir().glob("*.html"))) == 2  # one report per recorded run, checked with the rest
    for value in (CANARY_ID, CANARY_ID.lower(), CANARY_PHONE, CANARY_PHONE[3:]):
        for place, content in places.items():
            assert value.encode() not in content, f"canary {value[:4]}... found in {place}"
