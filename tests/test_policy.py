"""decide(): every threshold of Order No. 16 and the Shanghai pharmacovigilance scenario at one below, at and
one above; each list's scenarios; cross-zone recognition; filings and their expiry; Art. 5 purposes; CIIO;
important data; fail-closed cases. Decisions run against the shipped lists, loaded once."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from export_gate.errors import ConfigError, ListError
from export_gate.model import CATEGORIES, Counts
from export_gate.rules.handler import Filing, Handler
from export_gate.rules.lists import load_lists
from export_gate.rules.policy import decide

AS_OF = date(2025, 10, 1)
PLAIN = Handler("acme")
SHANGHAI = Handler("acme-sh", zone="shanghai-ftz")
SC = Filing("standard_contract", "SC-2025-17", date(2025, 1, 10))
SA = Filing("security_assessment", "SA-2024-03", date(2024, 3, 1))


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
    cert = run(lists, counts(150_000), handler=Handler("acme", filings=(Filing("certification", "CERT-1"),)))
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
    "beijing-ftz-2024": "beijing-ftz",
    "tianjin-ftz-2024": "tianjin-ftz",
    "hainan-ftp-2024": "hainan-ftp",
    "zhejiang-ftz-2025": "zhejiang-ftz",
    "guangxi-ftz-2025": "guangxi-ftz",
}


def _scenarios():
    gathered = load_lists()
    return [(lid, s) for lid in FTZ_LISTS for s in gathered[lid].scenario_ids]


@pytest.mark.parametrize(("list_id", "scenario"), _scenarios())
def test_every_scenario_of_every_ftz_list_decides(lists, list_id, scenario):
    """Outside Shanghai pharmacovigilance no scenario threshold is known: the national rules decide, and
    the decision says the list is partial and that the national rules applied."""
    handler = Handler("h", zone=FTZ_LISTS[list_id])
    d = run(lists, counts(500, 500), handler=handler, list_id=list_id, scenario=scenario)
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
    with pytest.raises(ListError, match="known lists: beijing-ftz-2024, cn-national-2024"):
        run(lists, counts(1), list_id="cn-national-2023")
    with pytest.raises(ListError, match="its scenarios: reinsurance, international_shipping"):
        run(lists, counts(1), handler=SHANGHAI, list_id="shanghai-ftz-2024", scenario="pharmacovigilence")
    with pytest.raises(ConfigError, match="unknown zone 'shanghai'"):
        run(lists, counts(1), handler=Handler("x", zone="shanghai"))


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
    assert data["list_version"] == "2024.1+sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
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
