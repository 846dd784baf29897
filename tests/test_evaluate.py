"""`export-gate evaluate`: the same export under the national baseline and under the Shanghai pharmacovigilance
scenario, the year-to-date count turning an allowed export into a blocked one, exit codes, and --record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_gate.commands.cli import main
from export_gate.records.ledger import Store
from gate_data import people, write

NATIONAL = ["--list", "cn-national-2024", "--subject-key", "customer_id", "--as-of", "2025-06-01"]
#: A recording counts into the year it runs in (issue 12 item 4): the CLI runs at this time (see cli_clock).
CLI_CLOCK = "2025-06-01T02:00:00+00:00"
pytestmark = pytest.mark.usefixtures("cli_clock")
YEAR = 2025
SHANGHAI_PV = [
    *("--list", "shanghai-ftz-2024", "--scenario", "pharmacovigilance", "--zone", "shanghai-ftz"),
    *("--subject-key", "customer_id", "--as-of", "2025-06-01"),
]
CONTRACT = ["--filing", "standard_contract=SC-2025-001@2025-01-02"]


def evaluate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict]:
    code = main(["evaluate", *map(str, args), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """10,000 patients (the national sensitive assessment threshold), and two exports of 9,000 and 1,000 other
    patients, and 30 customers with personal information only."""
    folder = tmp_path_factory.mktemp("exports")
    return {
        "patients_10k": write(people(10_000, diagnosis=True), folder / "patients_10k.parquet"),
        "first_9000": write(people(9_000, start=100_000, diagnosis=True), folder / "first_9000.parquet"),
        "next_1000": write(people(1_000, start=200_000, diagnosis=True), folder / "next_1000.parquet"),
        "personal": write(people(30, start=300_000), folder / "personal.parquet"),
    }


def test_same_export_national_versus_shanghai_pharmacovigilance(capsys, exports):
    """10,000 people with health data: a security assessment under the national rules (a standard contract is
    not enough); off the negative list (allowed) in the Shanghai FTZ pharmacovigilance scenario."""
    code, national = evaluate(capsys, exports["patients_10k"], *NATIONAL, *CONTRACT)
    assert code == 1
    decision = national["decision"]
    assert decision["action"] == "block"
    assert decision["mechanism"] == "security_assessment"
    assert decision["counts"]["export"]["sensitive"] == 10_000
    assert (decision["counts"]["ytd_before"]["personal"], decision["counts"]["ytd_before"]["sensitive"]) == (0, 0)
    assert decision["counts"]["ytd_after"]["sensitive"] == 10_000
    assert national["subjects"]["sensitive"] == 10_000

    code, shanghai = evaluate(capsys, exports["patients_10k"], *SHANGHAI_PV)
    assert code == 0
    assert shanghai["decision"]["action"] in ("allow", "annotate")
    assert shanghai["decision"]["mechanism"] is None
    assert shanghai["decision"]["rule"]["id"] != decision["rule"]["id"]
    assert shanghai["decision"]["counts"]["ytd_after"]["sensitive"] == 10_000


def test_year_to_date_turns_an_allowed_export_into_a_blocked_one(capsys, exports):
    """1,000 patients alone: a standard contract is enough (annotate). After 9,000 others were recorded this
    year, the same 1,000 reach 10,000 and need a security assessment (block). Recording twice counts once."""
    code, alone = evaluate(capsys, exports["next_1000"], *NATIONAL, *CONTRACT)
    assert (code, alone["decision"]["action"]) == (0, "annotate")
    assert alone["decision"]["mechanism"] == "standard_contract_or_certification"

    for _ in range(2):  # the same export recorded twice: union, not sum
        code, first = evaluate(capsys, exports["first_9000"], *NATIONAL, *CONTRACT, "--record")
        assert (code, first["decision"]["action"], first["recorded"]) == (0, "annotate", True)
    assert first["decision"]["counts"]["ytd_before"]["sensitive"] == 9_000
    assert first["decision"]["counts"]["ytd_after"]["sensitive"] == 9_000

    code, after = evaluate(capsys, exports["next_1000"], *NATIONAL, *CONTRACT)
    assert code == 1
    assert after["decision"]["action"] == "block"
    assert after["decision"]["mechanism"] == "security_assessment"
    counts = after["decision"]["counts"]
    assert (counts["ytd_before"]["sensitive"], counts["ytd_after"]["sensitive"]) == (9_000, 10_000)
    assert counts["export"]["sensitive"] == 1_000


def test_without_record_nothing_is_written(capsys, exports):
    code, output = evaluate(capsys, exports["personal"], *NATIONAL)
    assert (code, output["decision"]["action"], output["recorded"]) == (0, "allow", False)
    assert output["decision"]["counts"]["export"]["personal"] == 30
    store = Store()
    assert store.counts("default", YEAR).personal == 0
    assert store.audit.query(limit=10)[1] == 0


def test_record_writes_a_confirmed_reservation_and_an_audit_record(capsys, exports):
    code, output = evaluate(capsys, exports["personal"], *NATIONAL, "--handler-id", "acme", "--record")
    assert code == 0
    store = Store()
    assert store.counts("acme", YEAR).personal == 30
    assert store.reservation_counts("acme", YEAR)["confirmed"] == 1
    record = store.audit.get(output["audit_id"])
    assert record["action"] == "allow"
    assert record["counts"]["ytd_after"]["personal"] == 30
    assert record["source"]["fingerprint"].startswith("sha256:")
    assert store.audit.verify().ok


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--list", "no-such-list"], "unknown list"),
        (["--list", "shanghai-ftz-2024", "--scenario", "pharmacovigilance"], "shanghai-ftz"),
    ],
)
def test_a_gate_that_cannot_decide_exits_2_and_blocks(capsys, exports, args, needle):
    code = main(["evaluate", str(exports["personal"]), *args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 2
    assert json.loads(captured.out)["decision"]["action"] == "block"
    assert needle in captured.err


def test_unreadable_source_with_record_is_blocked_and_audited(capsys, tmp_path):
    code, output = evaluate(capsys, tmp_path / "missing.parquet", *NATIONAL, "--record")
    assert code == 2
    assert output["decision"]["action"] == "block"
    record = Store().audit.get(output["audit_id"])
    assert record["action"] == "block"
    assert "InputError" in record["error"]


def test_table_format_names_the_decision_and_the_rule(capsys, exports):
    code = main(["evaluate", str(exports["next_1000"]), *NATIONAL, "--format", "table"])
    out = capsys.readouterr().out
    assert code == 1
    assert "decision:   BLOCK" in out
    assert "sensitive-under-10k-contract" in out
    assert "standard_contract_or_certification" in out


def test_identity_document_alone_is_sensitive_only_under_the_older_standard(capsys, tmp_path):
    """GB/T 45574-2025 (default): an ID number alone is personal information; GB/T 35273-2020: sensitive."""
    from stdnum.cn import ric

    frame = people(20)
    body = [f"110105194912310{i:02d}" for i in range(20)]
    frame["id_number"] = [next(b + c for c in "0123456789X" if ric.is_valid(b + c)) for b in body]
    export = write(frame, tmp_path / "ids.parquet")
    code, current = evaluate(capsys, export, *NATIONAL)
    assert (code, current["decision"]["counts"]["export"]["sensitive"]) == (0, 0)
    code, older = evaluate(capsys, export, *NATIONAL, "--identity-document-sensitive")
    assert (code, older["decision"]["action"]) == (1, "block")
    assert older["decision"]["counts"]["export"]["categories"]["specific_identity"] == 20


def test_input_format_and_encoding_read_an_export_its_name_does_not_describe(capsys, tmp_path):
    """evaluate reads what scan reads: a GBK CSV named .dat is refused by name, and read with --input-format csv
    --encoding gbk (evaluate had neither option)."""
    export = tmp_path / "customers.dat"
    people(30, start=400_000).to_csv(export, index=False, encoding="gbk")
    code = main(["evaluate", str(export), *NATIONAL, "--format", "json"])
    assert code == 2
    assert "customers.dat: cannot tell the format from the file name" in capsys.readouterr().out
    code, result = evaluate(capsys, export, *NATIONAL, "--input-format", "csv", "--encoding", "gbk")
    assert code == 0
    assert result["decision"]["counts"]["export"]["personal"] == 30
