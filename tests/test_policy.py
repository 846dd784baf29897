"""decide(): every threshold of Order No. 16 and the Shanghai pharmacovigilance scenario at one below, at and
one above; each list's scenarios; cross-zone recognition; filings and their expiry; Art. 5 purposes; CIIO;
important data; fail-closed cases. Decisions run against the shipped lists, loaded once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from export_gate.errors import ConfigError, ListError
from export_gate.model import CATEGORIES, Counts
from export_gate.resources import lists_dir
from export_gate.rules.handler import Filing, Handler
from export_gate.rules.lists import load_lists
from export_gate.rules.policy import decide

AS_OF = date(2025, 10, 1)
PLAIN = Handler("acme")
SHANGHAI = Handler("acme-sh", zone="shanghai-ftz")
SC = Filing("standard_contract", "SC-2025-17", date(2025, 1, 10))
SA = Filing("security_assessment", "SA-2024-03", date(2024, 3, 1))
SHIPPED_LISTS = Path(str(lists_dir()))


@pytest.fixture(scope="session")
def lists():
    return load_lists()


def counts(personal: int, sensitive: int = 0, **categories: int) -> Counts:
    per = dict.fromkeys(CATEGORIES, 0)
    per.update(categories)
    if sensitive and not categories:
        per["medical_health"] = sensitive
    return Counts(personal, sensitive, per)


def run(lists, after: Counts, export: Counts | None = None, **kw):
    """Decide an export that brings the year to ``after``; by default the export adds one more person of each
    kind it has, so the year-to-date count decides, as the rules say."""
    export = export or counts(min(after.personal, 1), min(after.sensitive, 1))
    before = counts(after.personal - export.personal, after.sensitive - export.sensitive)
    kw.setdefault("handler", PLAIN)
    kw.setdefault("list_id", "cn-national-2024")
    kw.setdefault("as_of", AS_OF)
    return decide(export=export, before=before, after=after, lists=lists, **kw)


# ------------------------------------------------------------------------------------------- boundaries

NATIONAL = [
    # general personal information only (不含敏感个人信息)
    (99_999, 0, "annotate", None, "personal-under-100k-exempt"),  # allowed, past 80% of 100,000: a warning
    (100_000, 0, "block", "standard_contract_or_certification", "personal-100k-contract"),
    (100_001, 0, "block", "standard_contract_or_certification", "personal-100k-contract"),
    (999_999, 0, "block", "standard_contract_or_certification", "personal-100k-contract"),
    (1_000_000, 0, "block", "security_assessment", "personal-1m-assessment"),
    (1_000_001, 0, "block", "security_assessment", "personal-1m-assessment"),
    # sensitive personal information: no de minimis, 1 person already needs a mechanism
    (50, 0, "allow", None, "personal-under-100k-exempt"),
    (50, 1, "block", "standard_contract_or_certification", "sensitive-under-10k-contract"),
    (50, 2, "block", "standard_contract_or_certification", "sensitive-under-10k-contract"),
    (20_000, 9_999, "block", "standard_contract_or_certification", "sensitive-under-10k-contract"),
    (20_000, 10_000, "block", "security_assessment", "sensitive-10k-assessment"),
    (20_000, 10_001, "block", "security_assessment", "sensitive-10k-assessment"),
]


@pytest.mark.parametrize(("personal", "sensitive", "action", "mechanism", "rule"), NATIONAL)
def test_national_thresholds(lists, personal, sensitive, action, mechanism, rule):
    d = run(lists, counts(personal, sensitive))
    assert (d.action, d.mechanism, d.rule["id"]) == (action, mechanism, rule)
    assert d.rule["list_id"] == "cn-national-2024"
    assert d.rule["source"]["url"].startswith("https://")


PHARMACOVIGILANCE = [
    (1, "allow", None, "pharmacovigilance-sensitive-under-100k-exempt"),
    (10_000, "allow", None, "pharmacovigilance-sensitive-under-100k-exempt"),  # national: security assessment
    (99_999, "annotate", None, "pharmacovigilance-sensitive-under-100k-exempt"),  # near 100,000: warning
    (100_000, "block", "security_assessment", "pharmacovigilance-sensitive-100k-assessment"),
    (100_001, "block", "security_assessment", "pharmacovigilance-sensitive-100k-assessment"),
]


@pytest.mark.parametrize(("sensitive", "action", "mechanism", "rule"), PHARMACOVIGILANCE)
def test_shanghai_pharmacovigilance_thresholds(lists, sensitive, action, mechanism, rule):
    # general PI stays below 100,000 so only the sensitive threshold can decide... except at 100,000+ people,
    # where the national general-PI rules (not overridden by the scenario) also require a mechanism.
    d = run(
        lists,
        counts(min(sensitive, 99_999), sensitive),
        handler=SHANGHAI,
        list_id="shanghai-ftz-2024",
        scenario="pharmacovigilance",
    )
    assert (d.action, d.mechanism, d.rule["id"]) == (action, mechanism, rule)


def test_same_export_national_versus_shanghai_pharmacovigilance(lists):
    """Done-when of issue 3: the same export, two lists, the answers the rules give."""
    after = counts(20_000, 20_000)
    national = run(lists, after, handler=SHANGHAI)
    shanghai = run(lists, after, handler=SHANGHAI, list_id="shanghai-ftz-2024", scenario="pharmacovigilance")
    assert (national.action, national.mechanism) == ("block", "security_assessment")
    assert (shanghai.action, shanghai.mechanism) == ("allow", None)
    # general PI in the scenario is not overridden: the national 100,000 threshold still applies
    big = run(
        lists, counts(150_000, 20_000), handler=SHANGHAI, list_id="shanghai-ftz-2024", scenario="pharmacovigilance"
    )
    assert (big.action, big.rule["id"]) == ("block", "personal-100k-contract")


def test_year_to_date_turns_an_allowed_export_into_a_blocked_one(lists):
    export = counts(10)
    first = decide(
        export=export,
        before=counts(0),
        after=export,
        handler=PLAIN,
        list_id="cn-national-2024",
        as_of=AS_OF,
        lists=lists,
    )
    later = decide(
        export=export,
        before=counts(99_990),
        after=counts(100_000),
        handler=PLAIN,
        list_id="cn-national-2024",
        as_of=AS_OF,
        lists=lists,
    )
    assert first.action == "allow"
    assert (later.action, later.mechanism) == ("block", "standard_contract_or_certification")
    assert later.counts["ytd_before"]["personal"] == 99_990 and later.counts["ytd_after"]["personal"] == 100_000


def test_sensitive_rules_concern_only_exports_that_carry_sensitive_information(lists):
    """Earlier sensitive exports do not make a later general-only export need the sensitive mechanism."""
    d = decide(
        export=counts(10),
        before=counts(500, 40),
        after=counts(510, 40),
        handler=PLAIN,
        list_id="cn-national-2024",
        as_of=AS_OF,
        lists=lists,
    )
    assert (d.action, d.rule["id"]) == ("allow", "personal-under-100k-exempt")


def test_no_personal_information_is_allowed(lists):
    d = decide(
        export=counts(0),
        before=counts(0),
        after=counts(0),
        handler=PLAIN,
        list_id="cn-national-2024",
        as_of=AS_OF,
        lists=lists,
    )
    assert (d.action, d.rule["id"]) == ("allow", "no-personal-information")


# --------------------------------------------------------------------------------- warnings and margins


def test_warning_past_warn_ratio_annotates(lists):
    below, past = run(lists, counts(79_999)), run(lists, counts(80_000))
    assert below.action == "allow" and not any("80%" in w for w in below.warnings)
    assert past.action == "annotate" and any("80%" in w and "100,000" in w for w in past.warnings)
    assert run(lists, counts(80_000), warn_ratio=0.9).action == "allow"


def test_margins_count_people_left_and_go_negative_when_past(lists):
    d = run(lists, counts(120_000, 300))
    margins = {(m["count"], m["threshold"]): m["left"] for m in d.margins}
    assert margins[("personal", 100_000)] == -20_000
    assert margins[("personal", 1_000_000)] == 880_000
    assert margins[("sensitive", 10_000)] == 9_700


def test_no_sensitive_de_minimis_is_a_warning(lists):
    d = run(lists, counts(5, 1))
    assert any("no de minimis" in w for w in d.warnings)


# ------------------------------------------------------------------------------------------------ filings


def test_required_mechanism_on_file_annotates(lists):
    d = run(lists, counts(150_000), filings=[SC])
    assert (d.action, d.mechanism) == ("annotate", "standard_contract_or_certification")
    assert d.filings_used[0]["reference"] == "SC-2025-17"
    cert = run(
        lists, counts(150_000), handler=Handler("acme", filings=(Filing("certification", "CERT-1", date(2025, 1, 5)),))
    )
    assert cert.action == "annotate"


def test_a_contract_does_not_satisfy_a_security_assessment(lists):
    assert run(lists, counts(1_000_000), filings=[SC]).action == "block"
    assert run(lists, counts(1_000_000), filings=[SA]).action == "annotate"


@pytest.mark.parametrize(
    ("filing", "as_of", "action", "warning"),
    [
        (Filing("security_assessment", "SA-1", date(2022, 6, 1)), date(2025, 5, 31), "annotate", None),
        (Filing("security_assessment", "SA-1", date(2022, 6, 1)), date(2025, 6, 1), "block", "expired on 2025-05-31"),
        (Filing("security_assessment", "SA-2"), AS_OF, "block", "no approval date"),
        (Filing("security_assessment", "SA-3", date(2026, 1, 1)), AS_OF, "block", "after 2025-10-01"),
        (
            Filing("security_assessment", "SA-4", date(2020, 1, 1), valid_until=date(2026, 1, 1)),
            AS_OF,
            "annotate",
            None,
        ),
        (
            Filing("security_assessment", "SA-5", date(2025, 1, 1), valid_until=date(2025, 9, 30)),
            AS_OF,
            "block",
            "expired",
        ),
    ],
)
def test_security_assessment_approval_expires_after_three_years(lists, filing, as_of, action, warning):
    d = run(lists, counts(50, 12_000), filings=[filing], as_of=as_of)
    assert d.action == action
    assert warning is None or any(warning in w for w in d.warnings)


def test_handler_and_call_filings_are_not_listed_twice(lists):
    handler = Handler("acme", filings=(SC,))
    d = run(lists, counts(150_000), handler=handler, filings=[SC])
    assert len(d.filings_used) == 1


# ------------------------------------------------------------------------------- purposes, CIIO, data


@pytest.mark.parametrize(
    "purpose", ["contract_with_individual", "cross_border_hr", "emergency", "foreign_in_foreign_out"]
)
def test_art5_purposes_exempt_any_volume(lists, purpose):
    d = run(lists, counts(2_000_000, 50_000), purpose=purpose)
    assert (d.action, d.mechanism, d.rule["id"]) == ("allow", None, f"purpose:{purpose}")
    assert any("declared purpose" in o for o in d.obligations)


def test_purposes_do_not_exempt_important_data(lists):
    d = run(lists, counts(10), purpose="contract_with_individual", important_data=True)
    assert (d.action, d.rule["id"]) == ("block", "important-data")


def test_trade_data_purpose_needs_data_without_personal_information(lists):
    with_pi = run(lists, counts(200_000), purpose="trade_data_without_personal_information")
    assert with_pi.action == "block" and any("does not apply" in w for w in with_pi.warnings)
    without = decide(
        export=counts(0), before=counts(0), after=counts(0), handler=PLAIN, list_id="cn-national-2024",
        as_of=AS_OF, lists=lists, purpose="trade_data_without_personal_information",
    )  # fmt: skip
    assert without.rule["id"] == "purpose:trade_data_without_personal_information"


def test_unknown_purpose_names_the_known_ones(lists):
    with pytest.raises(ListError, match="contract_with_individual"):
        run(lists, counts(10), purpose="marketing")


def test_ciio_any_personal_information_needs_a_security_assessment(lists):
    ciio = Handler("grid", ciio=True)
    assert (run(lists, counts(1), handler=ciio).rule["id"]) == "ciio-personal-information"
    assert run(lists, counts(1), handler=ciio).action == "block"
    assert run(lists, counts(1), handler=ciio, filings=[SA]).action == "annotate"
    assert run(lists, counts(1), handler=ciio, purpose="emergency").action == "allow"
    # de minimis is for non-CIIOs only (Art. 5(4))
    assert "personal-under-100k-exempt" not in {
        m for x in run(lists, counts(1), handler=ciio).margins for m in x["rules"]
    }


def test_ftz_list_does_not_apply_to_a_ciio(lists):
    ciio = Handler("port", zone="shanghai-ftz", ciio=True)
    d = run(lists, counts(5, 5), handler=ciio, list_id="shanghai-ftz-2024", scenario="pharmacovigilance")
    assert (d.action, d.rule["id"]) == ("block", "ciio-personal-information")
    assert any("does not apply to CIIO" in w for w in d.warnings)


def test_important_data_needs_a_security_assessment(lists):
    d = run(lists, counts(0), export=counts(0), important_data=True)
    assert (d.action, d.mechanism, d.rule["id"]) == ("block", "security_assessment", "important-data")
    assert run(lists, counts(0), export=counts(0), important_data=True, filings=[SA]).action == "annotate"


def test_unknown_category_blocks(lists):
    d = run(lists, counts(10), unknown_categories=["genetic"])
    assert (d.action, d.rule["id"]) == ("block", "gate:unknown-category")
    assert "genetic" in d.message


# -------------------------------------------------------------------------- lists, zones and scenarios

FTZ_LISTS = {
    "shanghai-ftz-2024": "shanghai-ftz",
    "shanghai-2025": "shanghai",
    "beijing-ftz-2024": "beijing-ftz",
    "beijing-2025": "beijing",
    "tianjin-ftz-2024": "tianjin-ftz",
    "hainan-ftp-2024": "hainan-ftp",
    "zhejiang-ftz-2024": "zhejiang-ftz",
    "guangxi-ftz-2025": "guangxi-ftz",
}
#: The 2025 editions of Shanghai and Beijing took effect in 2026.
LATER_EDITIONS_AS_OF = date(2026, 6, 1)


def _scenarios():
    gathered = load_lists()
    return [(lid, s) for lid in FTZ_LISTS for s in gathered[lid].scenario_ids]


@pytest.mark.parametrize(("list_id", "scenario"), _scenarios())
def test_every_scenario_of_every_ftz_list_decides(lists, list_id, scenario):
    """Outside Shanghai pharmacovigilance no scenario threshold is known: the national rules decide, and
    the decision says the list is partial and that the national rules applied."""
    handler = Handler("h", zone=FTZ_LISTS[list_id])
    as_of = LATER_EDITIONS_AS_OF if list_id.endswith("-2025") and list_id.startswith(("shanghai", "beijing")) else AS_OF
    d = run(lists, counts(500, 500), handler=handler, list_id=list_id, scenario=scenario, as_of=as_of)
    expected = (
        ("allow", None)
        if scenario == "pharmacovigilance" and list_id == "shanghai-ftz-2024"
        else ("block", "standard_contract_or_certification")
    )
    assert (d.action, d.mechanism) == expected
    assert d.list_id == list_id
    assert any(c["list_id"] == "cn-national-2024" and c["applies"] for c in d.considered)
    assert any("partial" in w for w in d.warnings)


def test_beijing_pharma_health_data_of_100k_people_is_important_data(lists):
    handler = Handler("bj", zone="beijing-ftz")
    d = run(
        lists,
        counts(100_000, 100_000, medical_health=100_000),
        handler=handler,
        list_id="beijing-ftz-2024",
        scenario="clinical_trials",
    )
    assert (d.rule["id"], d.mechanism) == ("pharma-health-data-100k-important", "security_assessment")
    finance = run(
        lists,
        counts(100_000, 100_000, financial_account=100_000),
        handler=handler,
        list_id="beijing-ftz-2024",
        scenario="clinical_trials",
    )
    assert finance.rule["id"] == "sensitive-10k-assessment"


def test_no_scenario_on_an_ftz_list_falls_back_to_national_rules(lists):
    d = run(lists, counts(500, 500), handler=SHANGHAI, list_id="shanghai-ftz-2024")
    assert d.rule["id"] == "sensitive-under-10k-contract"
    assert any("Order No. 16 Art. 6" in c["reason"] for c in d.considered)


def test_cross_zone_recognition_allowed_for_shanghai_handlers(lists):
    d = run(lists, counts(10), handler=SHANGHAI, list_id="beijing-ftz-2024", scenario="automobiles")
    chosen = d.considered[0]
    assert chosen["list_id"] == "beijing-ftz-2024" and "cross-zone recognition" in chosen["reason"]


@pytest.mark.parametrize(
    ("handler", "list_id", "as_of"),
    [
        (Handler("bj", zone="beijing-ftz"), "shanghai-ftz-2024", AS_OF),  # recognition is one-way
        (PLAIN, "tianjin-ftz-2024", AS_OF),  # not in any FTZ
        (SHANGHAI, "beijing-ftz-2024", date(2025, 1, 1)),  # before the Shanghai list (and its recognition) took effect
    ],
)
def test_cross_zone_recognition_refused(lists, handler, list_id, as_of):
    with pytest.raises(ListError, match="may not use list"):
        run(lists, counts(10), handler=handler, list_id=list_id, as_of=as_of)


def test_unknown_list_scenario_and_zone_are_errors(lists):
    with pytest.raises(
        ListError, match=r"known lists: beijing \(series\), beijing-2025, beijing-ftz-2024, cn-national-2024"
    ):
        run(lists, counts(1), list_id="cn-national-2023")
    with pytest.raises(ListError, match="its scenarios: reinsurance, international_shipping"):
        run(lists, counts(1), handler=SHANGHAI, list_id="shanghai-ftz-2024", scenario="pharmacovigilence")
    with pytest.raises(ConfigError, match="unknown zone 'shanghai-pudong'"):  # "shanghai" is a zone since 2026
        run(lists, counts(1), handler=Handler("x", zone="shanghai-pudong"))


def test_list_not_in_force_is_an_error(lists):
    with pytest.raises(ListError, match="not in force on 2024-03-21"):
        run(lists, counts(1), as_of=date(2024, 3, 21))
    assert run(lists, counts(1), as_of=date(2024, 3, 22)).action == "allow"


def test_inconsistent_counts_are_refused(lists):
    with pytest.raises(ConfigError, match="inconsistent personal counts"):
        decide(
            export=counts(10),
            before=counts(5),
            after=counts(7),
            handler=PLAIN,
            list_id="cn-national-2024",
            as_of=AS_OF,
            lists=lists,
        )


# ------------------------------------------------------------------------------------------ the output


def test_decision_is_plain_data_with_version_pinned_to_the_file(lists):
    d = run(lists, counts(150_000, 20))
    data = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
    path = Path(lists["cn-national-2024"].path)
    assert data["list_version"] == "2026.1+sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert set(data["counts"]) == {"export", "ytd_before", "ytd_after"}
    assert data["rule"]["source"]["article"] == "Art. 8"
    assert "150,000" in data["message"] and "standard contract or certification" in data["message"]
    assert data["obligations"] and data["considered"]


def test_considered_says_why_other_lists_did_not_apply(lists):
    d = run(
        lists,
        counts(10),
        handler=Handler("bj", zone="beijing-ftz"),
        list_id="beijing-ftz-2024",
        as_of=date(2024, 12, 1),
    )
    reasons = {c["list_id"]: c["reason"] for c in d.considered if not c["applies"]}
    assert reasons["shanghai-ftz-2024"].startswith("not in force on 2024-12-01")
    assert "may not use it" in reasons["tianjin-ftz-2024"]
    assert "Order No. 16 Art. 6" in next(c["reason"] for c in d.considered if c["list_id"] == "cn-national-2024")


def test_lingang_handlers_use_the_shanghai_list_and_other_ftz_lists(lists):
    lingang = Handler("lg", zone="shanghai-lingang")
    assert (
        run(lists, counts(10, 10), handler=lingang, list_id="shanghai-ftz-2024", scenario="pharmacovigilance").action
        == "allow"
    )
    assert run(lists, counts(10), handler=lingang, list_id="hainan-ftp-2024", scenario="tourism").action == "allow"


# --------------------------------------------------------------- issue 13: the three decision errors


BEIJING = Handler("acme-bj", zone="beijing-ftz")


@pytest.mark.parametrize("purpose", [None, "emergency", "contract_with_individual", "cross_border_hr"])
def test_a_declared_purpose_never_lifts_an_important_data_rule_written_as_a_count(lists, purpose):
    """Beijing's pharma rule counts sensitive (medical) people but says the data is important data: 100,000
    people in pharmacovigilance need a security assessment with or without an Art. 5 purpose (the purpose
    used to cancel every sensitive-count rule, this one included, and the export was allowed)."""
    after = counts(100_000, 100_000, medical_health=100_000)
    d = run(lists, after, handler=BEIJING, list_id="beijing-ftz-2024", scenario="pharmacovigilance", purpose=purpose)
    assert (d.action, d.mechanism, d.rule["id"]) == (
        "block",
        "security_assessment",
        "pharma-health-data-100k-important",
    )
    assert d.rule["kind"] == "important_data" and d.rule["list_id"] == "beijing-ftz-2024"
    if purpose:
        assert any(f"declared purpose {purpose!r} does not lift" in w for w in d.warnings)
    below = run(lists, counts(99_999, 99_999, medical_health=99_999), handler=BEIJING, list_id="beijing-ftz-2024",
                scenario="pharmacovigilance", purpose="emergency")  # fmt: skip
    assert (below.mechanism, below.rule["id"]) == (None, "purpose:emergency")  # under 100,000: not important data


@pytest.mark.parametrize(
    ("filing", "as_of", "action", "warning"),
    [
        (Filing("certification", "C", date(2015, 1, 1)), AS_OF, "block", "expired on 2017-12-31"),
        (Filing("certification", "C", date(2023, 10, 1)), date(2026, 9, 30), "annotate", None),
        (Filing("certification", "C", date(2023, 10, 1)), date(2026, 10, 1), "block", "expired on 2026-09-30"),
        (Filing("certification", "C"), AS_OF, "block", "no approval date"),
    ],
)
def test_a_certification_is_valid_three_years(lists, filing, as_of, action, warning):
    """Order No. 20: a certificate is valid 3 years (it never expired before: a 2015 one still annotated)."""
    d = run(lists, counts(150_000), filings=[filing], as_of=as_of)
    assert d.action == action
    assert warning is None or any(warning in w for w in d.warnings), d.warnings


CERTIFICATION_ONLY_LIST = """
id: test-certification
title: A list that asks every handler for a certification
issuer: test
kind: national
zone: national
zones: ["*"]
version: "1"
edition: test
issued: 2026-01-01
effective: 2026-01-01
last_checked: 2026-01-01
source: &src {title: test, url: "https://example.org/", article: "1", date: 2026-01-01}
status: {state: complete}
scenarios: []
mechanisms:
  certification:
    title: certification
    obligation: obtain a certification
    validity_years: 3
    unavailable_to: [ciio, important_data]
    source: *src
rules:
  - {id: any-personal, text: t, scenarios: ["*"], count: personal, categories: [personal],
     comparison: more than, threshold: 0, mechanism: certification, source: *src}
"""


def test_certification_is_not_available_to_a_ciio_or_for_important_data(tmp_path):
    """Order No. 20: only non-CIIO handlers without important data may use a certification. The shipped
    rules ask a CIIO or important data for an assessment anyway, so a list that asks every handler for a
    certification shows the check itself."""
    (tmp_path / "test-certification.yaml").write_text(CERTIFICATION_ONLY_LIST, encoding="utf-8")
    both = load_lists([tmp_path])
    kw = {"list_id": "test-certification", "filings": [Filing("certification", "CERT-9", date(2026, 2, 1))],
          "as_of": date(2026, 6, 1)}  # fmt: skip
    assert run(both, counts(5), **kw).action == "annotate"
    ciio = run(both, counts(5), handler=Handler("op", ciio=True), **kw)
    assert ciio.action == "block" and any("not available to CIIO handlers" in w for w in ciio.warnings)
    important = run(both, counts(5), important_data=True, **kw)
    assert important.action == "block"
    assert any("not available to exports that hold important data" in w for w in important.warnings)


def test_a_security_assessment_on_file_satisfies_a_contract_requirement(lists):
    """A handler whose export passed the stricter review is no longer blocked for want of a standard
    contract; the decision says that a stronger mechanism satisfied the rule."""
    d = run(lists, counts(150_000), filings=[SA])
    assert (d.action, d.mechanism, d.rule["id"]) == ("annotate", "standard_contract_or_certification",
                                                      "personal-100k-contract")  # fmt: skip
    assert d.filings_used[0]["kind"] == "security_assessment" and d.filings_used[0]["stronger"] is True
    assert "stronger mechanism" in d.message and "SA-2024-03" in d.message
    sensitive = run(lists, counts(50, 20), filings=[SA])
    assert sensitive.action == "annotate"
    expired = run(lists, counts(150_000), filings=[Filing("security_assessment", "SA-0", date(2021, 1, 1))])
    assert expired.action == "block"  # an expired assessment satisfies nothing


# ----------------------------------------------------------------------- issue 13: filings cover exports


def test_a_registered_filing_covers_only_its_recipient_and_scope(lists):
    registered = Filing(
        "standard_contract", "SC-REG-1", date(2025, 1, 10), recipients=("Acme Safety GmbH",), scope=("personal",)
    )
    ok = run(lists, counts(150_000), filings=[registered], recipient="acme safety gmbh")
    assert ok.action == "annotate" and ok.filings_used[0]["recipients"] == ["Acme Safety GmbH"]
    other = run(lists, counts(150_000), filings=[registered], recipient="Other Ltd")
    assert other.action == "block" and any("not for Other Ltd" in w for w in other.warnings)
    unnamed = run(lists, counts(150_000), filings=[registered])
    assert unnamed.action == "block" and any("names no recipient" in w for w in unnamed.warnings)
    medical = run(lists, counts(50, 20), filings=[registered], recipient="Acme Safety GmbH")
    assert medical.action == "block" and any("does not include medical_health" in w for w in medical.warnings)
    wide = Filing("standard_contract", "SC-REG-2", date(2025, 1, 10), recipients=("Acme Safety GmbH",),
                  scope=("personal", "sensitive"))  # fmt: skip
    assert run(lists, counts(50, 20), filings=[wide], recipient="Acme Safety GmbH").action == "annotate"
    by_dataset = Filing("standard_contract", "SC-REG-3", date(2025, 1, 10), recipients=("Acme Safety GmbH",),
                        scope=("dataset:s3://exports/cases/*",))  # fmt: skip
    kw = {"filings": [by_dataset], "recipient": "Acme Safety GmbH"}
    assert run(lists, counts(50, 20), datasets=["s3://exports/cases/2025-06.parquet"], **kw).action == "annotate"
    assert run(lists, counts(50, 20), datasets=["s3://exports/crm/2025-06.parquet"], **kw).action == "block"


# ----------------------------------------------------------------- issue 13: editions and counting setting


def test_a_series_id_picks_the_edition_in_force_on_the_export_date(lists):
    before = run(lists, counts(10), handler=SHANGHAI, list_id="shanghai", scenario="reinsurance")
    after = run(lists, counts(10), handler=SHANGHAI, list_id="shanghai", scenario="reinsurance",
                as_of=date(2026, 6, 1))  # fmt: skip
    assert (before.list_id, after.list_id) == ("shanghai-ftz-2024", "shanghai-2025")
    with pytest.raises(ListError, match="the edition in force then is shanghai-2025"):
        run(lists, counts(10), handler=SHANGHAI, list_id="shanghai-ftz-2024", as_of=date(2026, 6, 1))
    with pytest.raises(ListError, match="has no scenario 'pharmacovigilance'"):  # not a sector of the 2025 edition
        run(lists, counts(10), handler=SHANGHAI, list_id="shanghai", scenario="pharmacovigilance",
            as_of=date(2026, 6, 1))  # fmt: skip
    city = Handler("acme-puxi", zone="shanghai")  # registered outside the FTZ: only the city-wide edition
    assert run(lists, counts(10), handler=city, list_id="shanghai", as_of=date(2026, 6, 1)).list_id == "shanghai-2025"
    with pytest.raises(ListError, match="may not use list 'shanghai-ftz-2024'"):
        run(lists, counts(10), handler=city, list_id="shanghai-ftz-2024")
    beijing = run(lists, counts(10), handler=BEIJING, list_id="beijing", as_of=date(2026, 5, 11))
    assert beijing.list_id == "beijing-2025"


def test_every_decision_says_whether_an_ftz_exempt_export_counts_towards_national_totals(lists):
    kw = {"list_id": "shanghai-ftz-2024", "scenario": "pharmacovigilance"}
    default = run(lists, counts(20_000, 15_000), handler=SHANGHAI, **kw)
    assert default.action == "allow" and default.counting["ftz_exemption"] is True
    assert default.counted and default.counting["count_ftz_exempt"] is True
    assert "still counted" in default.counting["note"]
    opted_out = run(lists, counts(20_000, 15_000), handler=replace(SHANGHAI, count_ftz_exempt=False), **kw)
    assert not opted_out.counted and "NOT counted" in opted_out.counting["note"]
    national = run(lists, counts(50), handler=replace(SHANGHAI, count_ftz_exempt=False))
    assert national.counted and national.counting["ftz_exemption"] is False  # a national exemption always counts
    assert "counting" in national.to_dict()
