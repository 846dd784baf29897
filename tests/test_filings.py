"""The filings register (`export-gate filings add | list | show | expire`) and the legal entity behind handler ids:
filings are stored in the ledger database and written to the audit chain, cover an export only for their
recipient and scope, and every handler id of one unified social credit code counts into one ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_gate.commands.cli import main
from export_gate.errors import ConfigError
from export_gate.records.ledger import Store
from export_gate.rules.handler import Handler, load_handler
from gate_data import people, write

ACME = "91110000600037341L"  # GB 32100-2015 check character L (python-stdnum's own example)
ACME_TYPO = "91110000600037341K"
OTHER_ENTITY = "91310115MA1H8Q2R5X"
CUSTOMERS = ["--list", "cn-national-2024", "--subject-key", "customer_id", "--as-of", "2026-06-01"]
REGISTER_SA = [
    *("filings", "add", "--uscc", ACME, "--kind", "standard_contract", "--reference", "SC-REG-7"),
    *("--date", "2026-01-02", "--recipient", "Acme Safety GmbH", "--scope", "personal", "--scope", "sensitive"),
]


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def evaluate(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict]:
    code, out, _ = cli(capsys, "evaluate", *args, "--format", "json")
    return code, json.loads(out)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("filings")
    return {
        "patients": write(people(40, diagnosis=True), folder / "patients.parquet"),
        "first": write(people(60_000, start=100_000), folder / "first.parquet"),
        "second": write(people(60_000, start=200_000), folder / "second.parquet"),
    }


def test_uscc_is_checked_with_its_check_character(tmp_path):
    assert Handler("acme", uscc=ACME).ledger_key == f"uscc:{ACME}"
    with pytest.raises(ConfigError, match="check character"):
        Handler("acme", uscc=ACME_TYPO)
    with pytest.raises(ConfigError, match="18 characters"):
        Handler("acme", uscc="9111000060003734")
    # python-stdnum's limit: the first eight characters must be digits, so a code of a registration authority
    # written with a letter is refused (it fails closed: the gate blocks and says so)
    with pytest.raises(ConfigError, match="not a valid unified social credit code"):
        Handler("acme", uscc="Y11100006000373410")
    assert Handler("acme", uscc="91110000600037341l").uscc == ACME  # lower case is accepted and normalised
    profile = tmp_path / "acme.yaml"
    profile.write_text(f"id: acme-sh\nuscc: '{ACME_TYPO}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{profile}: field 'uscc'"):
        load_handler(profile)
    profile.write_text(f"id: acme-sh\nuscc: '{ACME}'\ncount_ftz_exempt: false\n", encoding="utf-8")
    assert (load_handler(profile).uscc, load_handler(profile).count_ftz_exempt) == (ACME, False)


def test_register_add_list_show_expire_write_the_audit_chain(capsys):
    assert cli(capsys, *REGISTER_SA)[0] == 0
    code, _, err = cli(capsys, *REGISTER_SA)
    assert code == 2 and "already has standard_contract 'SC-REG-7'" in err
    code, _, err = cli(capsys, *REGISTER_SA[:3], ACME_TYPO, *REGISTER_SA[4:])
    assert code == 2 and "check character" in err
    with pytest.raises(SystemExit):  # argparse: --recipient and --scope are required
        main(REGISTER_SA[:-4])
    code, out, _ = cli(capsys, "filings", "list", "--format", "json")
    rows = json.loads(out)
    assert [(r["entity"], r["reference"], r["recipients"], r["scope"]) for r in rows] == [
        (f"uscc:{ACME}", "SC-REG-7", ["Acme Safety GmbH"], ["personal", "sensitive"])
    ]
    code, out, _ = cli(capsys, "filings", "show", "--uscc", ACME, "SC-REG-7")
    assert json.loads(out)["status"] == "active"
    assert cli(capsys, "filings", "expire", "--uscc", ACME, "SC-REG-7", "--on", "2026-07-01")[0] == 0
    assert json.loads(cli(capsys, "filings", "list", "--format", "json")[1]) == []
    expired = json.loads(cli(capsys, "filings", "list", "--all", "--format", "json")[1])
    assert (expired[0]["status"], expired[0]["valid_until"]) == ("expired", "2026-06-30")
    records, _ = Store().audit.query(event="filing", limit=10)
    assert sorted(r["change"] for r in records) == ["add", "expire"]
    assert all(r["handler_id"] == f"uscc:{ACME}" for r in records)
    assert Store().audit.verify().ok


def test_a_registered_filing_covers_an_export_only_for_its_recipient(capsys, exports):
    assert cli(capsys, *REGISTER_SA)[0] == 0
    base = [exports["patients"], *CUSTOMERS, "--uscc", ACME]
    code, ok = evaluate(capsys, *base, "--recipient", "Acme Safety GmbH")
    assert code == 0 and ok["decision"]["action"] == "annotate"
    assert ok["decision"]["filings_used"][0] | {"origin": "register"} == ok["decision"]["filings_used"][0]
    code, other = evaluate(capsys, *base, "--recipient", "Other Ltd")
    assert code == 1 and any("not for Other Ltd" in w for w in other["decision"]["warnings"])
    code, _ = evaluate(capsys, *base, "--recipient", "Other Ltd", "--filing", "standard_contract=SC-1@2026-01-02")
    assert code == 0  # --filing still works for a one-off check
    code, _ = evaluate(capsys, *base, "--recipient", "Acme Safety GmbH", "--as-of", "2026-08-01")
    assert code == 0  # before expiry: a later --as-of is judged without it
    assert cli(capsys, "filings", "expire", "--uscc", ACME, "SC-REG-7", "--on", "2026-07-01")[0] == 0
    code, after = evaluate(capsys, *base, "--recipient", "Acme Safety GmbH", "--as-of", "2026-08-01")
    assert code == 1 and any("expired on 2026-06-30" in w for w in after["decision"]["warnings"])


def test_handler_ids_of_one_entity_share_one_ledger(capsys, exports):
    """60,000 people through one id and 60,000 more through another id of the same entity: 120,000 in one
    ledger, so the second export needs a standard contract (split across two ledgers, each stayed under 100,000)."""
    first = [exports["first"], *CUSTOMERS, "--record", "--handler-id", "acme-sh", "--uscc", ACME]
    code, one = evaluate(capsys, *first)
    assert code == 0 and one["decision"]["counts"]["ytd_after"]["personal"] == 60_000
    # the second id is bound to the entity on first use; later runs without the code still count there
    second = [exports["second"], *CUSTOMERS, "--record", "--handler-id", "acme-bj", "--uscc", ACME]
    code, two = evaluate(capsys, *second)
    assert code == 1 and two["decision"]["counts"]["ytd_after"]["personal"] == 120_000
    assert two["decision"]["rule"]["id"] == "personal-100k-contract"
    code, again = evaluate(capsys, exports["second"], *CUSTOMERS, "--handler-id", "acme-bj")
    assert again["decision"]["counts"]["ytd_before"]["personal"] == 60_000  # the entity's ledger, without --uscc
    code, _, err = cli(capsys, "evaluate", exports["patients"], *CUSTOMERS, "--handler-id", "acme-sh",
                       "--uscc", OTHER_ENTITY, "--record")  # fmt: skip
    assert code == 2 and "belongs to the entity with unified social credit code" in err
    assert Store().counts(f"uscc:{ACME}", 2026).personal == 60_000  # the blocked second export was not reserved


def test_count_ftz_exempt_false_leaves_an_ftz_exempt_export_out_of_the_ledger(capsys, exports, tmp_path):
    """The setting is the handler's; its default (true) counts an FTZ-exempt export, as before."""
    pv = ["--list", "shanghai-ftz-2024", "--scenario", "pharmacovigilance", "--subject-key", "customer_id"]
    pv += ["--as-of", "2026-03-02", "--record"]
    for name, setting in (("counted", "true"), ("left-out", "false")):
        profile = tmp_path / f"{name}.yaml"
        profile.write_text(f"id: {name}\nzone: shanghai-ftz\ncount_ftz_exempt: {setting}\n", encoding="utf-8")
        code, out = evaluate(capsys, exports["patients"], *pv, "--handler", profile)
        assert code == 0 and out["decision"]["counting"]["ftz_exemption"] is True
        assert out["recorded"]  # audited either way
    assert Store().counts("counted", 2026).sensitive == 40
    assert Store().counts("left-out", 2026).sensitive == 0
