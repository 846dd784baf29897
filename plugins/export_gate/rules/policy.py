"""Decide allow / annotate / block for one export from the year-to-date counts and a list's rules.

The rules are data (lists/); this module only applies them, in the same way for every list:

1. Pick the list, check that it is in force and that the handler may use it (its zone, or a list that
   recognises every FTZ list for the handler's zone). An FTZ list that does not apply to CIIO handlers,
   or data outside its scenarios, falls back to its national base list, and the decision says so.
   A series id (``shanghai``) picks the edition in force on the export date; a superseded edition named by
   its id is refused on a later date, naming the edition in force.
2. Collect the rules for the scenario: the FTZ list's own rules, then the base rules they do not override.
   A declared purpose (an Art. 3/4/5 exemption) removes the rules on the counts it exempts, except
   important-data rules: nothing lifts those (Order No. 16 Art. 5, last paragraph).
3. A rule concerns this export only if the export carries what the rule counts (a sensitive-information
   rule needs sensitive information in this export); its conditions are tested on the year-to-date
   counts after this export (自当年1月1日起累计).
4. The strongest mechanism triggered decides: on file, valid and covering this export (recipient and scope)
   -> annotate, missing -> block. A stronger mechanism on file satisfies a weaker requirement (a security
   assessment for a standard contract), and the decision says so. No mechanism -> allow (annotate when a
   threshold is near). Unknown categories, or no rule covering the export at all, -> block: the gate cannot
   decide, so it fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from export_gate.errors import ConfigError, ListError
from export_gate.model import Counts
from export_gate.rules.handler import Filing, Handler
from export_gate.rules.lists import (
    ANY_ZONE,
    MECHANISMS,
    SATISFIED_BY,
    GateList,
    Mechanism,
    Purpose,
    Rule,
    edition_in_force,
    known_zones,
    load_lists,
    series_editions,
)

#: Lower-bound comparisons: the ones a count grows into, so they get a "near the threshold" warning.
_RISING = ("not less than", "more than")


@dataclass(frozen=True)
class Decision:
    """What the gate decided, why, and what the handler must do; plain data for reports, XCom and audit."""

    action: str
    mechanism: str | None
    rule: dict
    list_id: str
    list_version: str
    counts: dict
    margins: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    considered: list[dict] = field(default_factory=list)
    obligations: list[str] = field(default_factory=list)
    filings_used: list[dict] = field(default_factory=list)
    message: str = ""
    counting: dict = field(default_factory=dict)

    @property
    def counted(self) -> bool:
        """Whether this export's people go into the year-to-date ledger (see ``counting``)."""
        return bool(self.counting.get("counted", True))

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "mechanism": self.mechanism,
            "rule": self.rule,
            "list_id": self.list_id,
            "list_version": self.list_version,
            "counts": self.counts,
            "margins": self.margins,
            "warnings": self.warnings,
            "considered": self.considered,
            "obligations": self.obligations,
            "filings_used": self.filings_used,
            "message": self.message,
            "counting": self.counting,
        }


@dataclass(frozen=True)
class _Candidate:
    """A rule of a list with the count it was tested on."""

    gate_list: GateList
    rule: Rule
    value: int | bool
    triggered: bool

    def to_dict(self) -> dict:
        r = self.rule
        first = r.conditions[0]
        return {
            "id": r.id,
            "list_id": self.gate_list.id,
            "text": r.text,
            "count": r.count,
            "categories": list(r.categories),
            "period": r.period,
            "value": self.value,
            "comparison": first.comparison,
            "threshold": first.threshold,
            "conditions": [{"comparison": c.comparison, "threshold": c.threshold} for c in r.conditions],
            "mechanism": r.mechanism,
            "exemption": r.exemption,
            "kind": r.kind,
            "source": r.source.to_dict(),
            "also": [src.to_dict() for src in r.also],
            "effective": r.effective.isoformat(),
        }


def _rule_without_threshold(
    rule_id: str,
    text: str,
    *,
    list_id: str | None,
    mechanism: str | None,
    exemption: str | None,
    source: dict,
    effective: str | None,
) -> dict:
    """A decided-by entry in the shape of a list rule, for decisions no count threshold made."""
    return {
        "id": rule_id,
        "list_id": list_id,
        "text": text,
        "count": None,
        "categories": [],
        "period": None,
        "value": None,
        "comparison": None,
        "threshold": None,
        "conditions": [],
        "mechanism": mechanism,
        "exemption": exemption,
        "source": source,
        "effective": effective,
    }


def _purpose_rule(gate_list: GateList, purpose: Purpose) -> dict:
    """A declared exemption purpose (Art. 3, 4, 5(1)-(3)) decided the export."""
    return _rule_without_threshold(
        f"purpose:{purpose.id}",
        purpose.text,
        list_id=gate_list.id,
        mechanism="none",
        exemption=purpose.title,
        source=purpose.source.to_dict(),
        effective=purpose.effective.isoformat(),
    )


def _gate_rule(rule_id: str, text: str) -> dict:
    """A decision the gate itself makes (fail closed), not a rule of a list."""
    return _rule_without_threshold(
        rule_id,
        text,
        list_id=None,
        mechanism=None,
        exemption=None,
        source={
            "title": "Export Gate: fail closed when the gate cannot decide",
            "url": None,
            "article": None,
            "date": None,
        },
        effective=None,
    )


# ------------------------------------------------------------------------------------------ list choice


def _pick(lists: Mapping[str, GateList], list_id: str, as_of: date) -> GateList:
    """The list named ``list_id``, or for a series id the edition in force on ``as_of``."""
    series = series_editions(lists)
    if list_id in series:
        edition = edition_in_force(lists, list_id, as_of)
        if edition is None:
            spans = ", ".join(f"{e.id} from {e.effective.isoformat()}" for e in series[list_id])
            raise ListError(f"no edition of {list_id!r} is in force on {as_of.isoformat()} ({spans}); check --as-of")
        return edition
    if list_id not in lists:
        known = sorted([*lists, *(f"{name} (series)" for name in series)])
        raise ListError(f"unknown list {list_id!r}; known lists: {', '.join(known)}")
    return lists[list_id]


def _require_in_force(gl: GateList, lists: Mapping[str, GateList], as_of: date) -> None:
    if not gl.in_force(as_of):
        until = f" to {gl.expires.isoformat()}" if gl.expires else ""
        current = edition_in_force(lists, gl.id, as_of)
        instead = (
            f"; the edition in force then is {current.id} (or name the series {gl.series!r})"
            if current is not None
            else "; choose a list in force or check --as-of"
        )
        raise ListError(
            f"list {gl.id!r} is not in force on {as_of.isoformat()} (in force from {gl.effective.isoformat()}{until})"
            + instead
        )


def _use_basis(handler: Handler, gl: GateList, lists: Mapping[str, GateList], as_of: date) -> str | None:
    """Why this handler may use the list, or None when it may not."""
    if gl.usable_in(handler.zone):
        return "any handler may use it" if ANY_ZONE in gl.zones else f"the handler is registered in {handler.zone}"
    if gl.kind == "ftz" and handler.zone is not None:
        for other in sorted(lists.values(), key=lambda x: x.id):
            if handler.zone in other.recognizes_ftz_lists_for and other.in_force(as_of):
                return (
                    f"cross-zone recognition: {other.id} lets handlers registered in {handler.zone} use every FTZ list"
                )
    return None


def _why_not(handler: Handler, gl: GateList, lists: Mapping[str, GateList], scenario: str | None, as_of: date) -> str:
    if not gl.in_force(as_of):
        return f"not in force on {as_of.isoformat()} (in force from {gl.effective.isoformat()})"
    if _use_basis(handler, gl, lists, as_of) is None:
        return f"handlers registered in {handler.zone or 'no FTZ'} may not use it (it is for {', '.join(gl.zones)})"
    if handler.ciio and not gl.applies_to_ciio:
        return "it does not apply to CIIO handlers"
    if scenario is not None and gl.kind == "ftz" and scenario not in gl.scenario_ids:
        return f"scenario {scenario!r} is not on it"
    return "usable by this handler, but not the list chosen"


# ------------------------------------------------------------------------------------------------ counts


def _value(rule: Rule, counts: Counts, important_data: bool) -> int | bool:
    """The count a rule is about. Several named categories: their sum, capped at the sensitive total,
    which can only over-count (conservative) since one person may fall in several categories."""
    if rule.count == "important_data":
        return important_data
    if rule.count == "personal":
        return counts.personal
    if "sensitive" in rule.categories:
        return counts.sensitive
    per = [counts.categories.get(name, 0) for name in rule.categories]
    return per[0] if len(per) == 1 else min(counts.sensitive, sum(per))


def _count_label(rule: Rule) -> str:
    if rule.count != "sensitive" or "sensitive" in rule.categories:
        return rule.count
    return "sensitive:" + "+".join(rule.categories)


def _evaluate(gl: GateList, rule: Rule, export: Counts, after: Counts, important_data: bool) -> _Candidate:
    if rule.period == "export":
        value = _value(rule, export, important_data)
        return _Candidate(gl, rule, value, all(c.holds(value) for c in rule.conditions))
    value = _value(rule, after, important_data)
    carried = rule.count == "important_data" or bool(_value(rule, export, important_data))
    return _Candidate(gl, rule, value, carried and all(c.holds(value) for c in rule.conditions))


def _check_counts(export: Counts, before: Counts, after: Counts) -> None:
    for name in ("personal", "sensitive"):
        e, b, a = getattr(export, name), getattr(before, name), getattr(after, name)
        if min(e, b, a) < 0 or a < max(e, b) or a > e + b:
            raise ConfigError(
                f"inconsistent {name} counts (export {e}, year to date before {b}, after {a}): after must lie "
                "between max(export, before) and export + before; the ledger and the scan disagree"
            )


# -------------------------------------------------------------------------------------------- the engine


@dataclass
class _Working:
    """What the steps of ``decide`` accumulate."""

    considered: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    obligations: list[str] = field(default_factory=list)


def _ruleset(
    chosen: GateList, base: GateList | None, scenario: str | None, handler: Handler, as_of: date, w: _Working
) -> list[tuple[GateList, Rule]]:
    if handler.ciio and not chosen.applies_to_ciio:
        own: list[Rule] = []
        w.warnings.append(f"{chosen.id} does not apply to CIIO handlers: the national rules decide")
    else:
        own = [r for r in chosen.rules if r.applies_to_scenario(scenario)]
    overridden = {name for r in own for name in r.overrides}
    # important-data rules are inherited whatever a list overrides (lists.py refuses such overrides as well)
    inherited = [r for r in base.rules if r.id not in overridden or r.important_data] if base else []
    if base is not None:
        if handler.ciio and not chosen.applies_to_ciio:
            reason = f"{chosen.id} does not apply to CIIO handlers, so the national rules apply"
        elif scenario is None:
            reason = (
                "no scenario given: data outside the FTZ list's scenarios falls back to the national rules "
                "(Order No. 16 Art. 6; docs/rules.md)"
            )
        elif not own:
            reason = f"{chosen.id} encodes no rules for scenario {scenario!r} (list partial): the national rules apply"
        else:
            kept = "all" if not overridden else f"all but {', '.join(sorted(overridden))}"
            reason = f"national rules apply where scenario {scenario!r} does not override them ({kept})"
        w.considered.append({"list_id": base.id, "version": base.version_id, "applies": True, "reason": reason})
    pairs = [(chosen, r) for r in own] + [(base, r) for r in inherited if base is not None]
    return [(gl, r) for gl, r in pairs if r.in_force(as_of) and r.applies_to_handler(handler.ciio)]


def _purpose(
    chosen: GateList, base: GateList | None, name: str | None, export: Counts, as_of: date, w: _Working
) -> tuple[GateList, Purpose] | tuple[None, None]:
    """The declared purpose and the list that defines it; (None, None) when none applies."""
    if name is None:
        return None, None
    owners = [gl for gl in (chosen, base) if gl is not None]
    for gl in owners:
        for p in gl.purposes:
            if p.id == name:
                if p.effective > as_of:
                    raise ListError(f"purpose {name!r} of {gl.id} is in force only from {p.effective.isoformat()}")
                if p.requires_no_personal_information and export.personal > 0:
                    w.warnings.append(
                        f"declared purpose {name!r} does not apply: it requires data without personal information, "
                        f"and this export carries personal information of {export.personal} people"
                    )
                    return None, None
                w.obligations.append(
                    f"Keep evidence that the transfer is necessary for the declared purpose: {p.title} "
                    f"({p.source.article}); the exemption rests on that declaration."
                )
                return gl, p
    known = sorted({p.id for gl in owners for p in gl.purposes})
    raise ListError(f"unknown purpose {name!r} for list {chosen.id}; known purposes: {', '.join(known) or 'none'}")


@dataclass(frozen=True)
class _Export:
    """What a filing is matched against: who receives the export, what it carries, where it comes from."""

    recipient: str | None
    categories: tuple[str, ...]
    uris: tuple[str, ...]
    ciio: bool
    important_data: bool


def _carried(export: Counts) -> tuple[str, ...]:
    """The data categories an export carries, as a filing's scope names them."""
    sensitive = tuple(name for name, n in sorted(export.categories.items()) if n > 0)
    return (("personal",) if export.personal > 0 else ()) + sensitive


def _filings(
    mechanism: str,
    filings: Sequence[Filing],
    mechanisms: Mapping[str, Mechanism],
    as_of: date,
    export: _Export,
    w: _Working,
) -> list[dict]:
    """The filings on file that satisfy ``mechanism`` for this export on ``as_of``; the unusable ones become
    warnings that say why (expired, not yet valid, not available to this handler, another recipient or scope)."""
    used = []
    for f in filings:
        if f.kind not in SATISFIED_BY[mechanism]:
            continue
        label = f"{f.kind} {f.reference}"
        spec = mechanisms.get(f.kind)
        years = spec.validity_years if spec else None
        last = f.last_valid_day(years)
        excluded = [
            who
            for who in (spec.unavailable_to if spec else ())
            if (who == "ciio" and export.ciio) or (who == "important_data" and export.important_data)
        ]
        gap = f.coverage_gap(export.recipient, export.categories, export.uris)
        if f.date is not None and f.date > as_of:
            w.warnings.append(f"{label} is dated {f.date.isoformat()}, after {as_of.isoformat()}")
        elif years and last is None:
            w.warnings.append(
                f"{label} has no approval date, so whether it expired cannot be checked "
                f"(valid {years} years); give KIND=REF@YYYY-MM-DD"
            )
        elif last is not None and as_of > last:
            w.warnings.append(f"{label} expired on {last.isoformat()}")
        elif excluded and spec is not None:
            who = "CIIO handlers" if "ciio" in excluded else "exports that hold important data"
            w.warnings.append(
                f"{label} cannot be used: a {f.kind.replace('_', ' ')} is not available to {who} "
                f"({spec.source.title}, {spec.source.article})"
            )
        elif gap is not None:
            w.warnings.append(f"{label} does not cover this export: {gap}")
        else:
            stronger = MECHANISMS[f.kind] > MECHANISMS[mechanism]
            used.append(
                {
                    **f.to_dict(),
                    "valid_until": last.isoformat() if last else None,
                    "satisfies": mechanism,
                    "stronger": stronger,
                }
            )
    return used


def _margins(candidates: Sequence[_Candidate]) -> list[dict]:
    seen: dict[tuple[str, int], dict] = {}
    for cand in candidates:
        if cand.rule.period != "ytd" or cand.rule.count == "important_data":
            continue
        for cond in cand.rule.conditions:
            edge = cond.boundary()
            if edge is None or edge <= 1:
                continue
            key = (_count_label(cand.rule), edge)
            entry = seen.setdefault(
                key,
                {"count": key[0], "value": cand.value, "threshold": edge, "left": edge - int(cand.value), "rules": []},
            )
            entry["rules"].append(cand.rule.id)
    return sorted(seen.values(), key=lambda m: (m["count"], m["threshold"]))


def _near(candidates: Sequence[_Candidate], warn_ratio: float) -> list[str]:
    out = []
    for cand in candidates:
        if cand.triggered or cand.rule.rank == 0 or cand.rule.period != "ytd" or cand.rule.count == "important_data":
            continue
        for cond in cand.rule.conditions:
            edge = cond.boundary()
            if cond.comparison in _RISING and edge and edge > 1 and warn_ratio * edge <= int(cand.value) < edge:
                out.append(
                    f"{_count_label(cand.rule)} year to date {int(cand.value):,} is {int(cand.value) / edge:.0%} of "
                    f"{edge:,}: at {edge:,} rule {cand.rule.id} ({cand.gate_list.id}) requires "
                    f"{cand.rule.mechanism.replace('_', ' ')}"
                )
    return out


def _resolve(
    lists: Mapping[str, GateList], list_id: str, handler: Handler, scenario: str | None, as_of: date
) -> tuple[GateList, GateList | None, str]:
    """The chosen list, its base, and why the handler may use it; an error for anything it may not do."""
    zones = known_zones(lists)
    if handler.zone is not None and handler.zone not in zones:
        raise ConfigError(
            f"unknown zone {handler.zone!r} for handler {handler.id!r}; known: {', '.join(sorted(zones))}"
        )
    chosen = _pick(lists, list_id, as_of)
    _require_in_force(chosen, lists, as_of)
    basis = _use_basis(handler, chosen, lists, as_of)
    if basis is None:
        usable = sorted(gl.id for gl in lists.values() if _use_basis(handler, gl, lists, as_of) and gl.in_force(as_of))
        raise ListError(
            f"handler {handler.id!r} (zone {handler.zone or 'none'}) may not use list {chosen.id!r}, which is for "
            f"handlers registered in {', '.join(chosen.zones)}; lists it may use: {', '.join(usable)}"
        )
    if scenario is not None and scenario not in chosen.scenario_ids:
        known = ", ".join(chosen.scenario_ids) or "none (give no --scenario)"
        raise ListError(f"list {chosen.id!r} has no scenario {scenario!r}; its scenarios: {known}")
    base = lists.get(chosen.base) if chosen.base else None
    if base is not None:
        _require_in_force(base, lists, as_of)
    return chosen, base, basis


def decide(
    *,
    export: Counts,
    before: Counts,
    after: Counts,
    handler: Handler,
    list_id: str,
    scenario: str | None = None,
    purpose: str | None = None,
    filings: Sequence[Filing] = (),
    as_of: date,
    important_data: bool = False,
    unknown_categories: Sequence[str] = (),
    warn_ratio: float = 0.8,
    lists: Mapping[str, GateList] | None = None,
    recipient: str | None = None,
    datasets: Sequence[str] = (),
) -> Decision:
    """Decide one export to ``recipient`` (the overseas receiver) of data read from ``datasets`` (URIs); both
    are matched against the filings' recipients and scope. Raises ListError/ConfigError when it cannot decide
    (the caller blocks)."""
    lists = load_lists() if lists is None else lists
    _check_counts(export, before, after)
    chosen, base, basis = _resolve(lists, list_id, handler, scenario, as_of)
    w = _Working()
    w.considered.append({"list_id": chosen.id, "version": chosen.version_id, "applies": True, "reason": basis})
    pairs = _ruleset(chosen, base, scenario, handler, as_of, w)
    w.considered.extend(
        {
            "list_id": gl.id,
            "version": gl.version_id,
            "applies": False,
            "reason": _why_not(handler, gl, lists, scenario, as_of),
        }
        for gl in sorted(lists.values(), key=lambda x: x.id)
        if gl is not chosen and gl is not base
    )
    for gl in (chosen, base):
        if gl is not None and gl.status == "partial":
            w.warnings.append(f"list {gl.id} is partial: {gl.missing}")
    purpose_owner, declared = _purpose(chosen, base, purpose, export, as_of, w)
    if declared is not None:  # a purpose never lifts an important-data rule, however the list counts it
        pairs = [(gl, r) for gl, r in pairs if r.important_data or r.count not in declared.exempts]

    candidates = [_evaluate(gl, r, export, after, important_data) for gl, r in pairs]
    triggered = [c for c in candidates if c.triggered]
    strongest = max((c.rule.rank for c in triggered), default=0)
    decider = next((c for c in triggered if c.rule.rank == strongest), None)
    holds_important = important_data or any(c.rule.important_data for c in triggered)
    if declared is not None and decider is not None and decider.rule.important_data:
        w.warnings.append(
            f"the declared purpose {declared.id!r} does not lift rule {decider.rule.id}: important data always needs "
            "a security assessment (Order No. 16 Art. 2 and Art. 5, last paragraph)"
        )
    if strongest == 0 and declared is not None:
        rule = _purpose_rule(purpose_owner, declared)
    elif decider is not None:
        rule = decider.to_dict()
        if decider.rule.warning:
            w.warnings.append(decider.rule.warning)
    else:
        rule = _gate_rule("gate:no-rule", f"no rule of {chosen.id} covers this export")
    mechanism = decider.rule.mechanism if decider is not None and strongest > 0 else None
    mechanisms = {**(base.mechanisms if base else {}), **chosen.mechanisms}
    near = _near(candidates, warn_ratio)
    w.warnings.extend(near)
    if export.personal > 0:
        w.obligations.extend([*(base.obligations if base else ()), *chosen.obligations])

    used: list[dict] = []
    if mechanism is not None:
        target = _Export(recipient, _carried(export), tuple(datasets), handler.ciio, holds_important)
        used = _filings(mechanism, list(dict.fromkeys([*handler.filings, *filings])), mechanisms, as_of, target, w)
        if mechanism in mechanisms:
            w.obligations.insert(0, mechanisms[mechanism].obligation)
    if unknown_categories:
        action = "block"
        rule = _gate_rule(
            "gate:unknown-category",
            f"the export has data of categories the rules do not know ({', '.join(sorted(unknown_categories))})",
        )
    elif rule["id"] == "gate:no-rule":
        action = "block"
    elif mechanism is not None:
        action = "annotate" if used else "block"
    else:
        action = "annotate" if near else "allow"

    counts = {"export": export.to_dict(), "ytd_before": before.to_dict(), "ytd_after": after.to_dict()}
    decision = Decision(
        action=action,
        mechanism=mechanism,
        rule=rule,
        list_id=chosen.id,
        list_version=chosen.version_id,
        counts=counts,
        margins=_margins(candidates),
        warnings=w.warnings,
        considered=w.considered,
        obligations=w.obligations,
        filings_used=used,
        counting=_counting(handler, decider.gate_list if decider and strongest == 0 and declared is None else None),
    )
    return replace(decision, message=_message(decision, export, before, after, near))


def _counting(handler: Handler, exempted_by: GateList | None) -> dict:
    """Whether this export's people count towards the handler's national year-to-date totals. Only an export
    allowed by an FTZ list's own exemption (data off its negative list) can be left out, and only when the
    handler's setting says so; the default counts it (conservative: Order No. 16 does not say that Art. 6
    exports are outside the Art. 7/8 counts)."""
    if exempted_by is None or exempted_by.kind != "ftz":
        note = "counted towards the national year-to-date totals (not an FTZ exemption)"
        return {"count_ftz_exempt": handler.count_ftz_exempt, "ftz_exemption": False, "counted": True, "note": note}
    setting = "true, the conservative default" if handler.count_ftz_exempt else "false"
    still = "still counted" if handler.count_ftz_exempt else "NOT counted"
    note = (
        f"allowed under {exempted_by.id}'s exemption and {still} towards the national year-to-date totals "
        f"(setting count_ftz_exempt: {setting})"
    )
    return {
        "count_ftz_exempt": handler.count_ftz_exempt,
        "ftz_exemption": True,
        "counted": handler.count_ftz_exempt,
        "note": note,
    }


def _message(d: Decision, export: Counts, before: Counts, after: Counts, near: Sequence[str]) -> str:
    """One paragraph for a person: the rule, the counts against its threshold, what is missing, what to do."""
    r = d.rule
    counts = (
        f"Year to date after this export: {after.personal:,} people with personal information and {after.sensitive:,} "
        f"with sensitive personal information ({before.personal:,} and {before.sensitive:,} before; this export "
        f"{export.personal:,} and {export.sensitive:,})."
    )
    if r["id"].startswith("gate:"):
        return (
            f"BLOCK under {d.list_id}: {r['text']}, so the gate cannot decide and the export must not run. {counts} "
            "To proceed, fix the cause (classify the unknown data, or use a list whose rules cover this export) and "
            "run the gate again."
        )
    owner = "" if r["list_id"] == d.list_id else f" of {r['list_id']}"
    test = f" ({r['count']} {r['value']:,} is {r['comparison']} {r['threshold']:,})" if r["period"] else ""
    if r["count"] == "important_data":
        test = " (the export contains important data)"
    cite = f"{r['source']['title']}, {r['source']['article']}"
    head = f"{d.action.upper()} under {d.list_id}: rule {r['id']}{owner} ({cite}){test}."
    if d.mechanism is None:
        tail = f"No mechanism is required: {r['exemption'].rstrip('.')}."
        return " ".join([head, counts, tail, *(f"Warning: {w}." for w in near)])
    needed = d.mechanism.replace("_", " ")
    if d.action == "annotate":
        refs = ", ".join(f"{f['kind']} {f['reference']}" for f in d.filings_used)
        if all(f["stronger"] for f in d.filings_used):
            return (
                f"{head} {counts} It requires a {needed}; a stronger mechanism is on file, valid and covers this "
                f"export ({refs}), which satisfies it; the export may run."
            )
        return f"{head} {counts} It requires a {needed}, which is on file and valid ({refs}); the export may run."
    return (
        f"{head} {counts} It requires a {needed}, and no valid one is on file. To proceed, complete the "
        f"{needed} and give it to the gate as a filing KIND=REF@YYYY-MM-DD (the operator's filings=[...], the "
        "CLI's --filing, or the handler profile), "
        "declare an applicable exemption purpose, or reduce the export."
    )
