"""Load and validate the lists in lists/: the national baseline and the free trade zones' negative lists.

Lists are data that compliance people edit, so a mistake must point at the file, the line and the field
(``file:line: field: message``). The YAML is composed into nodes (which keep their line numbers) and
checked field by field; every problem is collected, so ``export-gate lists check`` shows them all at once.
The schema is documented in lists/README.md.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from export_gate.checked_yaml import Checker, Loader
from export_gate.errors import ListError
from export_gate.model import CATEGORIES
from export_gate.resources import lists_dir
from export_gate.rules.handler import as_date

#: Comparisons as the legal text says them: 以上 "not less than" (>=), 超过 "more than" (>),
#: 不满 "less than" (<), 以下 "not more than" (<=); "is" for yes/no facts such as important data.
COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "not less than": operator.ge,
    "more than": operator.gt,
    "less than": operator.lt,
    "not more than": operator.le,
    "is": operator.eq,
}
#: Mechanisms a rule can require, by strength. A standard contract filing or a certification satisfies
#: the same Art. 8 rule, so rules name ``standard_contract_or_certification``.
MECHANISMS: dict[str, int] = {
    "none": 0,
    "standard_contract": 1,
    "certification": 1,
    "standard_contract_or_certification": 1,
    "security_assessment": 2,
}
#: Which filing kinds satisfy each mechanism. A stronger mechanism on file satisfies a weaker requirement: a
#: handler whose export passed the security assessment has passed the stricter review of the same transfer.
SATISFIED_BY: dict[str, tuple[str, ...]] = {
    "standard_contract": ("standard_contract", "security_assessment"),
    "certification": ("certification", "security_assessment"),
    "standard_contract_or_certification": ("standard_contract", "certification", "security_assessment"),
    "security_assessment": ("security_assessment",),
}
#: Rule kinds. An ``important_data`` rule (data a department or region notified or published as important data,
#: however the list counts it) always needs a security assessment: no declared purpose, FTZ exemption or
#: override lifts it (Order No. 16 Art. 2 and Art. 5 last paragraph; Network Data Security Management Regulations).
RULE_KINDS = ("threshold", "important_data")
#: Who or what a mechanism may not be used by (a certification: not by a CIIO, not for important data).
UNAVAILABLE_TO = ("ciio", "important_data")
COUNTS = ("personal", "sensitive", "important_data")
PERIODS = ("ytd", "export")
HANDLERS = ("any", "ciio", "non_ciio")
KINDS = ("national", "ftz")
STATES = ("complete", "partial")
#: Zone id meaning "any handler, in a zone or not".
ANY_ZONE = "*"
#: Scenario id meaning "all data of the list, whatever the scenario (or none)".
ANY_SCENARIO = "*"


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    article: str
    date: date

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "url": self.url, "article": self.article, "date": self.date.isoformat()}


@dataclass(frozen=True)
class Condition:
    """One comparison of a count with a threshold, e.g. ``not less than 100000``."""

    comparison: str
    threshold: int | bool

    def holds(self, value: int | bool) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def boundary(self) -> int | None:
        """The first count at which the condition changes truth value (None for yes/no facts)."""
        if self.comparison == "is":
            return None
        assert isinstance(self.threshold, int)
        return self.threshold + 1 if self.comparison in ("more than", "not more than") else self.threshold


@dataclass(frozen=True)
class Rule:
    """One rule of a list: when ``count`` (over ``period``) meets all ``conditions`` for data of the listed
    ``scenarios``, the ``mechanism`` is required (or, with mechanism ``none``, the ``exemption`` applies)."""

    id: str
    text: str
    scenarios: tuple[str, ...]
    handlers: str
    count: str
    period: str
    categories: tuple[str, ...]
    conditions: tuple[Condition, ...]
    mechanism: str
    exemption: str | None
    overrides: tuple[str, ...]
    warning: str | None
    source: Source
    effective: date
    expires: date | None
    line: int
    kind: str = "threshold"
    also: tuple[Source, ...] = ()

    @property
    def important_data(self) -> bool:
        return self.kind == "important_data"

    @property
    def rank(self) -> int:
        return MECHANISMS[self.mechanism]

    def in_force(self, day: date) -> bool:
        return self.effective <= day and (self.expires is None or day <= self.expires)

    def applies_to_scenario(self, scenario: str | None) -> bool:
        return ANY_SCENARIO in self.scenarios or (scenario is not None and scenario in self.scenarios)

    def applies_to_handler(self, ciio: bool) -> bool:
        return self.handlers == "any" or (self.handlers == "ciio") == ciio


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    note: str | None = None


@dataclass(frozen=True)
class Purpose:
    """A declarable exemption (Order No. 16 Arts. 3, 4, 5(1)-(3)): rules on the ``exempts`` counts do not apply."""

    id: str
    title: str
    text: str
    exempts: tuple[str, ...]
    requires_no_personal_information: bool
    source: Source
    effective: date


@dataclass(frozen=True)
class Mechanism:
    id: str
    title: str
    obligation: str
    validity_years: int | None
    source: Source
    unavailable_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class GateList:
    """A validated list file."""

    id: str
    title: str
    issuer: str
    kind: str
    zone: str
    zones: tuple[str, ...]
    applies_to_ciio: bool
    version: str
    edition: str
    issued: date
    effective: date
    expires: date | None
    last_checked: date
    source: Source
    status: str
    missing: str | None
    base: str | None
    recognizes_ftz_lists_for: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    purposes: tuple[Purpose, ...]
    mechanisms: dict[str, Mechanism]
    obligations: tuple[str, ...]
    rules: tuple[Rule, ...]
    path: str
    sha256: str
    base_line: int = 1
    series: str | None = None

    @property
    def version_id(self) -> str:
        """The list's version plus the digest of its file, so an audit record pins the exact text."""
        return f"{self.version}+sha256:{self.sha256}"

    @property
    def scenario_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.scenarios)

    def in_force(self, day: date) -> bool:
        return self.effective <= day and (self.expires is None or day <= self.expires)

    def usable_in(self, zone: str | None) -> bool:
        """Whether a handler registered in ``zone`` (None: outside any FTZ) may use this list by itself."""
        return ANY_ZONE in self.zones or (zone is not None and zone in self.zones)

    def summary(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "zone": self.zone,
            "zones": list(self.zones),
            "series": self.series,
            "version": self.version_id,
            "edition": self.edition,
            "issued": self.issued.isoformat(),
            "effective": self.effective.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "last_checked": self.last_checked.isoformat(),
            "status": self.status,
            "missing": self.missing,
            "scenarios": [{"id": sc.id, "title": sc.title, "note": sc.note} for sc in self.scenarios],
            "source": self.source.to_dict(),
        }


# --------------------------------------------------------------------------------------------- validation


class _ListChecker(Checker):
    """A Checker with the field types of the lists: dates, URLs and legal sources."""

    def day(self, node: yaml.Node | None, where: str, *, nullable: bool = False) -> date | None:
        if node is None:
            return None
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else node
        if value is None and nullable:
            return None
        try:
            return as_date(value)
        except ValueError:
            self.problem(node, where, "must be a date written YYYY-MM-DD" + (" or null" if nullable else ""))
            return None

    def url(self, node: yaml.Node | None, where: str) -> str | None:
        value = self.text(node, where)
        if value is not None and not value.startswith(("https://", "http://")):
            assert node is not None
            self.problem(node, where, "must be an http(s) URL")
        return value

    def source(self, node: yaml.Node | None, where: str) -> Source | None:
        if node is None:
            return None
        f = self.fields(node, where, ("title", "url", "article", "date"))
        if f is None:
            return None
        parts = (
            self.text(f.get("title"), f"{where}.title"),
            self.url(f.get("url"), f"{where}.url"),
            self.text(_scalar_as_text(f.get("article")), f"{where}.article"),
            self.day(f.get("date"), f"{where}.date"),
        )
        return Source(*parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]


def _scalar_as_text(node: yaml.Node | None) -> yaml.Node | None:
    """Articles like ``9`` or ``7(2)`` are text even when YAML would read them as numbers."""
    if isinstance(node, yaml.ScalarNode) and not node.tag.endswith(":null"):
        return yaml.ScalarNode("tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark)
    return node


_LIST_REQUIRED = (
    "id",
    "title",
    "issuer",
    "kind",
    "zone",
    "zones",
    "version",
    "edition",
    "issued",
    "effective",
    "last_checked",
    "source",
    "status",
    "scenarios",
    "rules",
)
_LIST_OPTIONAL = (
    "expires",
    "series",
    "applies_to_ciio",
    "base",
    "cross_zone_recognition",
    "purposes",
    "mechanisms",
    "obligations",
)
_RULE_REQUIRED = ("id", "text", "scenarios", "count", "categories", "comparison", "threshold", "mechanism", "source")
_RULE_OPTIONAL = (
    "kind",
    "also",
    "handlers",
    "period",
    "and",
    "exemption",
    "overrides",
    "warning",
    "effective",
    "expires",
)


@dataclass(frozen=True)
class _ListFields:
    """What a rule's checks need from the list around it."""

    scenario_ids: tuple[str, ...]
    has_base: bool
    effective: date | None


def _parse_conditions(c: _ListChecker, f: dict[str, yaml.Node], where: str, count: str) -> tuple[Condition, ...]:
    pairs = [(f.get("comparison"), f.get("threshold"), where)]
    for i, extra in enumerate(c.items(f.get("and"), f"{where}.and")):
        g = c.fields(extra, f"{where}.and[{i}]", ("comparison", "threshold"))
        if g is not None:
            pairs.append((g.get("comparison"), g.get("threshold"), f"{where}.and[{i}]"))
    conditions = []
    for comp_node, threshold_node, at in pairs:
        if comp_node is None or threshold_node is None:
            continue
        comparison = c.choice(comp_node, f"{at}.comparison", tuple(COMPARISONS))
        threshold = c.value(threshold_node) if isinstance(threshold_node, yaml.ScalarNode) else None
        if count == "important_data":
            if comparison != "is" or threshold is not True:
                c.problem(comp_node, f"{at}.comparison", "a yes/no count takes 'comparison: is' and 'threshold: true'")
                continue
        elif comparison == "is" or isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            c.problem(
                threshold_node, f"{at}.threshold", "must be a whole number of people (0 or more) with a comparison"
            )
            continue
        conditions.append(Condition(comparison, threshold))  # type: ignore[arg-type]
    return tuple(conditions)


def _parse_categories(c: _ListChecker, node: yaml.Node | None, where: str, count: str) -> tuple[str, ...]:
    categories = c.texts(node, where, allow_empty=False)
    allowed = {"personal": ("personal",), "important_data": ("important_data",)}.get(count, ("sensitive", *CATEGORIES))
    for i, name in enumerate(categories):
        if name not in allowed:
            assert isinstance(node, yaml.SequenceNode)
            c.problem(
                node.value[i], f"{where}[{i}]", f"{name!r} does not fit count {count!r}; use: {', '.join(allowed)}"
            )
    return categories


def _parse_scenario_refs(
    c: _ListChecker, node: yaml.Node | None, where: str, scenario_ids: Sequence[str]
) -> tuple[str, ...]:
    names = c.texts(node, where, allow_empty=False)
    known = ", ".join([ANY_SCENARIO, *scenario_ids])
    for i, name in enumerate(names):
        if name != ANY_SCENARIO and name not in scenario_ids:
            assert isinstance(node, yaml.SequenceNode)
            c.problem(node.value[i], f"{where}[{i}]", f"unknown scenario {name!r}; this list has: {known}")
    return names


def _parse_rule(c: _ListChecker, node: yaml.Node, where: str, gl_fields: _ListFields) -> Rule | None:
    f = c.fields(node, where, _RULE_REQUIRED, _RULE_OPTIONAL)
    if f is None:
        return None
    rule_id = c.text(f.get("id"), f"{where}.id")
    count = c.choice(f.get("count"), f"{where}.count", COUNTS)
    mechanism = c.choice(f.get("mechanism"), f"{where}.mechanism", tuple(MECHANISMS))
    exemption = c.optional_text(f.get("exemption"), f"{where}.exemption")
    if mechanism == "none" and exemption is None:
        c.problem(f.get("mechanism", node), f"{where}.exemption", "a rule with mechanism 'none' must say the exemption")
    if mechanism != "none" and exemption is not None:
        c.problem(f["exemption"], f"{where}.exemption", "only a rule with mechanism 'none' states an exemption")
    kind = c.choice(f.get("kind"), f"{where}.kind", RULE_KINDS, "important_data" if count == "important_data" else None)
    if count == "important_data" and kind != "important_data":
        c.problem(f["kind"], f"{where}.kind", "a rule that counts important data is of kind 'important_data'")
    if kind == "important_data" and mechanism != "security_assessment":
        c.problem(
            f.get("mechanism", node),
            f"{where}.mechanism",
            "an important-data rule requires 'security_assessment' (Order No. 16 Arts. 2, 7; important data always "
            "needs a security assessment)",
        )
    rule = Rule(
        id=rule_id or "",
        text=c.text(f.get("text"), f"{where}.text") or "",
        scenarios=_parse_scenario_refs(c, f.get("scenarios"), f"{where}.scenarios", gl_fields.scenario_ids),
        handlers=c.choice(f.get("handlers"), f"{where}.handlers", HANDLERS),
        count=count,
        period=c.choice(f.get("period"), f"{where}.period", PERIODS),
        categories=_parse_categories(c, f.get("categories"), f"{where}.categories", count),
        conditions=_parse_conditions(c, f, where, count),
        mechanism=mechanism,
        exemption=exemption,
        overrides=c.texts(f.get("overrides"), f"{where}.overrides"),
        warning=c.optional_text(f.get("warning"), f"{where}.warning"),
        source=c.source(f.get("source"), f"{where}.source"),  # type: ignore[arg-type]
        effective=c.day(f.get("effective"), f"{where}.effective") or gl_fields.effective,  # type: ignore[arg-type]
        expires=c.day(f.get("expires"), f"{where}.expires", nullable=True),
        line=node.start_mark.line + 1,
        kind=kind,
        also=tuple(
            src
            for i, item in enumerate(c.items(f.get("also"), f"{where}.also"))
            if (src := c.source(item, f"{where}.also[{i}]")) is not None
        ),
    )
    if rule.overrides and not gl_fields.has_base:
        c.problem(f["overrides"], f"{where}.overrides", "only a list with a 'base' list can override its rules")
    return rule if rule_id and rule.source and rule.effective else None


def _parse_purpose(c: _ListChecker, node: yaml.Node, where: str, list_effective: date | None) -> Purpose | None:
    f = c.fields(
        node, where, ("id", "title", "text", "exempts", "source"), ("requires_no_personal_information", "effective")
    )
    if f is None:
        return None
    exempts = c.texts(f.get("exempts"), f"{where}.exempts", allow_empty=False)
    for i, name in enumerate(exempts):
        if name not in ("personal", "sensitive"):
            c.problem(
                f["exempts"].value[i], f"{where}.exempts[{i}]", "a purpose exempts 'personal' and/or 'sensitive' only"
            )
    parts = {
        "id": c.text(f.get("id"), f"{where}.id"),
        "title": c.text(f.get("title"), f"{where}.title"),
        "text": c.text(f.get("text"), f"{where}.text"),
        "source": c.source(f.get("source"), f"{where}.source"),
        "effective": c.day(f.get("effective"), f"{where}.effective") or list_effective,
    }
    if any(v is None for v in parts.values()):
        return None
    return Purpose(
        exempts=exempts,
        requires_no_personal_information=c.boolean(
            f.get("requires_no_personal_information"), f"{where}.requires_no_personal_information", False
        ),
        **parts,  # type: ignore[arg-type]
    )


def _parse_mechanisms(c: _ListChecker, node: yaml.Node | None) -> dict[str, Mechanism]:
    if node is None:
        return {}
    f = c.fields(node, "mechanisms", (), tuple(m for m in MECHANISMS if m != "none"))
    out: dict[str, Mechanism] = {}
    for name, sub in (f or {}).items():
        where = f"mechanisms.{name}"
        g = c.fields(sub, where, ("title", "obligation", "source"), ("validity_years", "unavailable_to"))
        if g is None:
            continue
        years = c.value(g["validity_years"]) if "validity_years" in g else None
        if years is not None and (isinstance(years, bool) or not isinstance(years, int) or years < 1):
            c.problem(g["validity_years"], f"{where}.validity_years", "must be a whole number of years (1 or more)")
            years = None
        title, obligation = c.text(g.get("title"), f"{where}.title"), c.text(g.get("obligation"), f"{where}.obligation")
        src = c.source(g.get("source"), f"{where}.source")
        excluded = c.texts(g.get("unavailable_to"), f"{where}.unavailable_to")
        for i, who in enumerate(excluded):
            if who not in UNAVAILABLE_TO:
                c.problem(
                    g["unavailable_to"].value[i], f"{where}.unavailable_to[{i}]", f"use: {', '.join(UNAVAILABLE_TO)}"
                )
        if title and obligation and src:
            out[name] = Mechanism(name, title, obligation, years, src, excluded)  # type: ignore[arg-type]
    return out


def _parse_scenarios(c: _ListChecker, node: yaml.Node | None) -> tuple[Scenario, ...]:
    out = []
    for i, item in enumerate(c.items(node, "scenarios")):
        f = c.fields(item, f"scenarios[{i}]", ("id", "title"), ("note",))
        if f is None:
            continue
        sid, title = c.text(f.get("id"), f"scenarios[{i}].id"), c.text(f.get("title"), f"scenarios[{i}].title")
        if sid == ANY_SCENARIO:
            c.problem(f["id"], f"scenarios[{i}].id", f"{ANY_SCENARIO!r} is reserved for rules that apply to all data")
        elif sid and title:
            out.append(Scenario(sid, title, c.optional_text(f.get("note"), f"scenarios[{i}].note")))
    return tuple(out)


def _parse_cross_zone(c: _ListChecker, node: yaml.Node | None) -> tuple[str, ...]:
    if node is None:
        return ()
    f = c.fields(node, "cross_zone_recognition", ("handlers_of", "may_use", "source"))
    if f is None:
        return ()
    c.choice(f.get("may_use"), "cross_zone_recognition.may_use", ("all_ftz_lists",))
    c.source(f.get("source"), "cross_zone_recognition.source")
    return c.texts(f.get("handlers_of"), "cross_zone_recognition.handlers_of", allow_empty=False)


@functools.lru_cache(maxsize=64)
def _parse_list(file: str, text: str) -> tuple[GateList | None, tuple[str, ...]]:
    """One list file to a GateList, or the problems that stop it (each ``file:line: field: message``).
    Cached on the file's text: a gate that decides every few seconds does not re-read unchanged YAML."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or "malformed YAML"
        return None, (f"{file}:{line}: (yaml): {problem}",)
    if root is None:
        return None, (f"{file}:1: (top): the file is empty",)
    c = _ListChecker(file, loader)
    f = c.fields(root, "", _LIST_REQUIRED, _LIST_OPTIONAL)
    if f is None:
        return None, tuple(c.problems)
    list_id = c.text(f.get("id"), "id")
    if list_id and Path(file).stem != list_id:
        c.problem(f["id"], "id", f"must match the file name ({Path(file).stem}.yaml)")
    effective = c.day(f.get("effective"), "effective")
    expires = c.day(f.get("expires"), "expires", nullable=True)
    if effective and expires and expires < effective:
        c.problem(f["expires"], "expires", "is before 'effective'")
    status, missing = "partial", None
    if "status" in f:
        s = c.fields(f["status"], "status", ("state",), ("missing",))
        if s is not None:
            status = c.choice(s.get("state"), "status.state", STATES)
            missing = c.optional_text(s.get("missing"), "status.missing")
            if status == "partial" and not missing:
                c.problem(f["status"], "status.missing", "a partial list must say what is missing")
    kind = c.choice(f.get("kind"), "kind", KINDS)
    scenarios = _parse_scenarios(c, f.get("scenarios"))
    context = _ListFields(tuple(s.id for s in scenarios), "base" in f, effective)
    rules: list[Rule] = []
    for i, node in enumerate(c.items(f.get("rules"), "rules", allow_empty=kind == "ftz")):
        rule = _parse_rule(c, node, f"rules[{i}]", context)
        if rule is not None and rule.id in {r.id for r in rules}:
            c.problem(node, f"rules[{i}].id", f"rule id {rule.id!r} is used twice in this list")
        elif rule is not None:
            rules.append(rule)
    purposes = tuple(
        p
        for i, node in enumerate(c.items(f.get("purposes"), "purposes"))
        if (p := _parse_purpose(c, node, f"purposes[{i}]", effective)) is not None
    )
    gate_list = GateList(
        id=list_id or "",
        title=c.text(f.get("title"), "title") or "",
        issuer=c.text(f.get("issuer"), "issuer") or "",
        kind=kind,
        zone=c.text(f.get("zone"), "zone") or "",
        zones=c.texts(f.get("zones"), "zones", allow_empty=False),
        applies_to_ciio=c.boolean(f.get("applies_to_ciio"), "applies_to_ciio", kind == "national"),
        version=c.text(_scalar_as_text(f.get("version")), "version") or "",
        edition=c.text(_scalar_as_text(f.get("edition")), "edition") or "",
        issued=c.day(f.get("issued"), "issued"),  # type: ignore[arg-type]
        effective=effective,  # type: ignore[arg-type]
        expires=expires,
        last_checked=c.day(f.get("last_checked"), "last_checked"),  # type: ignore[arg-type]
        source=c.source(f.get("source"), "source"),  # type: ignore[arg-type]
        status=status,
        missing=missing,
        base=c.optional_text(f.get("base"), "base"),
        recognizes_ftz_lists_for=_parse_cross_zone(c, f.get("cross_zone_recognition")),
        scenarios=scenarios,
        purposes=purposes,
        mechanisms=_parse_mechanisms(c, f.get("mechanisms")),
        obligations=c.texts(f.get("obligations"), "obligations"),
        rules=tuple(rules),
        path=file,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        base_line=f["base"].start_mark.line + 1 if "base" in f else 1,
        series=c.optional_text(f.get("series"), "series"),
    )
    _check_internal(c, gate_list, f)
    return (None if c.problems else gate_list), tuple(c.problems)


def _check_internal(c: _ListChecker, gl: GateList, f: dict[str, yaml.Node]) -> None:
    """Checks across the fields of one file: unique scenario ids, a base list exactly for FTZ lists."""
    if len(set(gl.scenario_ids)) != len(gl.scenarios):
        c.problem(f["scenarios"], "scenarios", "a scenario id is used twice")
    if gl.base is None and gl.kind == "ftz":
        c.problem(f["kind"], "base", "an FTZ list must name its base list (the national rules outside its scenarios)")
    if gl.kind == "national" and gl.base is not None:
        c.problem(f["base"], "base", "a national list has no base list")


def _check_references(lists: Mapping[str, GateList]) -> list[str]:
    """Checks across files: a base list that exists and is national, overrides that name its rules."""
    problems = []
    for gl in lists.values():
        if gl.base is None:
            continue
        base = lists.get(gl.base)
        if base is None or base.kind != "national":
            known = ", ".join(sorted(k for k, v in lists.items() if v.kind == "national"))
            problems.append(f"{gl.path}:{gl.base_line}: base: {gl.base!r} is not a known national list; known: {known}")
            continue
        base_rules = {r.id: r for r in base.rules}
        for rule in gl.rules:
            for name in rule.overrides:
                if name not in base_rules:
                    problems.append(f"{gl.path}:{rule.line}: rules.{rule.id}.overrides: {gl.base} has no rule {name!r}")
                elif base_rules[name].important_data:
                    problems.append(
                        f"{gl.path}:{rule.line}: rules.{rule.id}.overrides: {gl.base} rule {name!r} is an "
                        "important-data rule, which no list can lift (Order No. 16 Art. 5, last paragraph)"
                    )
    return problems + _check_series(lists)


def _check_series(lists: Mapping[str, GateList]) -> list[str]:
    """The editions of one series (a list and the editions that supersede it) are never in force on the same day,
    so an export date picks exactly one; a series id is not also a list id."""
    problems = []
    for name, editions in sorted(series_editions(lists).items()):
        if name in lists:
            problems.append(f"{lists[name].path}:1: series: {name!r} is both a series and a list id")
        for older, newer in itertools.pairwise(editions):
            if older.expires is None or older.expires >= newer.effective:
                until = older.expires.isoformat() if older.expires else "no end"
                problems.append(
                    f"{older.path}:1: expires: edition {older.id} ({older.effective.isoformat()} to {until}) overlaps "
                    f"{newer.id} (from {newer.effective.isoformat()}) in series {name!r}; end it the day before"
                )
    return problems


def series_editions(lists: Mapping[str, GateList]) -> dict[str, list[GateList]]:
    """Each series' editions, oldest first."""
    out: dict[str, list[GateList]] = {}
    for gl in lists.values():
        if gl.series:
            out.setdefault(gl.series, []).append(gl)
    return {name: sorted(editions, key=lambda e: e.effective) for name, editions in out.items()}


def edition_in_force(lists: Mapping[str, GateList], name: str, day: date) -> GateList | None:
    """The edition of series ``name`` (or of the series list ``name`` belongs to) in force on ``day``."""
    series = name if name not in lists else lists[name].series
    if series is None:
        return None
    return next((gl for gl in series_editions(lists).get(series, []) if gl.in_force(day)), None)


# ------------------------------------------------------------------------------------------------ loading


def _list_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        elif path.is_file():
            files.append(path)
        else:
            raise ListError(f"{path}: no such list file or folder")
    return files


def _shipped_files() -> list[Path]:
    return _list_files([Path(str(lists_dir()))])


def _parse_files(files: Iterable[Path]) -> tuple[dict[str, GateList], list[str]]:
    lists: dict[str, GateList] = {}
    problems: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}:1: (file): cannot be read as UTF-8 text ({type(exc).__name__})")
            continue
        gl, found = _parse_list(str(path), text)
        problems.extend(found)
        if gl is None:
            continue
        if gl.id in lists:
            problems.append(f"{path}:1: id: list id {gl.id!r} is also defined in {lists[gl.id].path}")
            continue
        lists[gl.id] = gl
    return lists, problems


def check_paths(paths: Sequence[str | Path] = ()) -> list[str]:
    """Validate list files or folders (the shipped lists when ``paths`` is empty). Cross-references (a
    ``base`` list) resolve against the shipped lists too. Returns problems as ``file:line: field: message``."""
    given = _list_files(paths) if paths else []
    shipped = [] if given else _shipped_files()
    lists, problems = _parse_files(given or shipped)
    if given:
        known, _ = _parse_files(_shipped_files())
        lists = {**known, **lists}
    problems.extend(p for p in _check_references(lists) if not given or any(p.startswith(str(f)) for f in given))
    return problems


def load_lists(extra_paths: Sequence[str | Path] = ()) -> dict[str, GateList]:
    """The shipped lists plus any extra list files/folders, validated. Any problem is a ListError (the gate
    must not decide against a list it could not read), naming file, line and field."""
    lists, problems = _parse_files([*_shipped_files(), *_list_files(extra_paths)])
    problems.extend(_check_references(lists))
    if problems:
        more = f" (and {len(problems) - 1} more; run `export-gate lists check`)" if len(problems) > 1 else ""
        raise ListError(problems[0] + more)
    return lists


#: Days after which a list's ``last_checked`` date is too old: its sources must be looked at again.
RECHECK_DAYS = 180


def stale_lists(lists: Mapping[str, GateList], today: date) -> list[str]:
    """One line per list not checked against its sources for more than RECHECK_DAYS days."""
    return [
        f"{gl.path}: last_checked {gl.last_checked.isoformat()} is {(today - gl.last_checked).days} days ago "
        f"(more than {RECHECK_DAYS}): check {gl.id} against its sources for a newer edition and update last_checked"
        for gl in sorted(lists.values(), key=lambda x: x.id)
        if (today - gl.last_checked).days > RECHECK_DAYS
    ]


def known_zones(lists: Mapping[str, GateList]) -> frozenset[str]:
    """Every zone the lists name, so a misspelt handler zone is rejected instead of silently matching nothing."""
    names = {z for gl in lists.values() for z in gl.zones if z != ANY_ZONE}
    return frozenset(names | {z for gl in lists.values() for z in gl.recognizes_ftz_lists_for})
