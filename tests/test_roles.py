"""detectors/roles.yaml: the role words are data, checked as strictly as the lists; how columns map to roles
and pseudonymous person keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from export_gate.commands.cli import main
from export_gate.people import roles
from export_gate.resources import detectors_dir


def test_the_shipped_roles_file_is_clean_and_loads() -> None:
    assert roles.check_file(str(detectors_dir() / "roles.yaml")) == []
    loaded = roles.load()
    assert loaded.words["收货人"] == loaded.words["consignee"] == "recipient"
    assert ("buyer", "recipient") in loaded.same_by_name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("roles: {a: [x]}\nkey_suffixes: [id]\nkey_columns: {}\nsame_by_name: []\nrole: 1\n", "t.yaml:5: role:"),
        ("roles: {a: [x]}\nkey_suffixes: [id]\nkey_columns: {}\n", "t.yaml:1: same_by_name: is required"),
        ("roles:\n  a: [x]\n  b: [x]\nkey_suffixes: [id]\nkey_columns: {}\nsame_by_name: []\n", "t.yaml:3: roles.b:"),
        ("roles:\n  a: [Doctor]\nkey_suffixes: [id]\nkey_columns: {}\nsame_by_name: []\n", "t.yaml:2: roles.a[0]:"),
        # an unquoted no is a boolean in YAML: it must not silently stop being a key suffix
        ("roles: {a: [x]}\nkey_suffixes: [id, no]\nkey_columns: {}\nsame_by_name: []\n", "key_suffixes[1]: must be"),
        ("roles: {a: [x]}\nkey_suffixes: [id]\nkey_columns: {z: [uid]}\nsame_by_name: []\n", "key_columns.z: is not"),
        ("roles: {a: [x]}\nkey_suffixes: [id]\nkey_columns: {}\nsame_by_name: [[a, q]]\n", "same_by_name[0]: must"),
        ("roles: {a: [x]\n", "t.yaml:2: (top): not valid YAML"),
        (
            "roles: {a: [x]}\nkey_suffixes: [id]\nkey_columns: {}\nsame_by_name: []\nknown_by_name: [q]\n",
            "t.yaml:5: known_by_name: 'q' is not a role",
        ),
    ],
)
def test_a_mistake_names_the_file_line_and_field(text: str, problem: str) -> None:
    parsed, problems = roles.check(text, "t.yaml")
    assert parsed is None
    assert any(p.startswith(problem) or problem in p for p in problems), problems


def test_check_file_reads_a_file(tmp_path: Path) -> None:
    broken = tmp_path / "roles.yaml"
    broken.write_text("roles: {}\n", encoding="utf-8")
    assert any(p.startswith(f"{broken}:1: key_suffixes: is required") for p in roles.check_file(broken))


def test_detectors_check_reports_a_broken_roles_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "detectors"
    shutil.copytree(Path(str(detectors_dir())), folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    text = (folder / "roles.yaml").read_text(encoding="utf-8")
    (folder / "roles.yaml").write_text(text.replace("key_columns:", "key_colums:"), encoding="utf-8")
    assert main(["detectors", "check", str(folder)]) == 2
    out = capsys.readouterr().out
    assert f"{folder / 'roles.yaml'}:" in out and "key_colums: unknown field" in out
    (folder / "roles.yaml").unlink()
    assert main(["detectors", "check", str(folder)]) == 2
    assert "the role words file is missing" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("shipping.consignee", "recipient"),  # the last path segment names the role
        ("shipping.consignee_phone", "recipient"),
        ("customs.buyer_name", "buyer"),
        ("attending_doctor", "doctor"),
        ("guardian_phone", "guardian"),
        ("收货人电话", "recipient"),
        ("xm", None),
    ],
)
def test_role_word_on_nested_and_abbreviated_names(column: str, role: str | None) -> None:
    assert roles.role_word(column) == role


@pytest.mark.parametrize(
    ("column", "role"),
    [
        ("patient_id", "patient"),
        ("patient_no", "patient"),
        ("客户编号", "customer"),
        ("会员号", "user"),
        ("cust_id", "customer"),
        ("uid", "user"),
        ("patient_id_card", None),  # an ID card number, not a key
        ("身份证号", None),
        ("order_id", None),  # an order is no person
        ("patientno", None),
    ],
)
def test_person_key_columns(column: str, role: str | None) -> None:
    assert roles.person_key_role(column) == role


def test_with_keys_a_role_without_a_key_is_its_own_and_synonyms_join_their_key() -> None:
    keys = ["holder_id", "insured_id"]
    assert roles.role_of("beneficiary_name", keys) == "beneficiary"  # not folded into holder_id
    assert roles.role_of("holder_bank_card", keys) == "holder_id"
    assert roles.role_of("被保险人姓名", keys) == "insured_id"  # the key's role word, in Chinese
    assert roles.role_of("premium", keys) == "holder_id"  # naming no role: the first key


def test_without_keys_unnamed_columns_belong_to_the_person_key_role() -> None:
    assigned = roles.inferred_roles(["buyer_id", "nm", "shipping.consignee", "sender_name", "customs.buyer_name"])
    assert assigned == {
        "buyer_id": "buyer",
        "nm": "buyer",
        "shipping.consignee": "recipient",
        "sender_name": "sender",
        "customs.buyer_name": "buyer",
    }


def test_a_person_key_column_named_by_key_columns_belongs_to_its_role() -> None:
    assert roles.inferred_roles(["uid", "message", "手机号"]) == dict.fromkeys(["uid", "message", "手机号"], "user")
