"""The data handler the counts belong to: its registration zone, CIIO status, time zone, legal identity and the
filings (standard contract, certification, security assessment approval) it has on file.

The rules count people per data handler from 1 January in the handler's own calendar, so the handler's
time zone decides which year an export falls in (``period_year``). A profile is a small YAML or JSON file
kept next to the pipeline; the CLI can also give the zone and filings as options (``parse_filing``).

A data handler is a legal entity. Given its unified social credit code (统一社会信用代码, GB 32100-2015), every
handler id of that entity counts into one ledger (``Handler.ledger_key``): splitting an entity's exports across
pipeline ids cannot keep it under a threshold (Order No. 20 and Order No. 13 forbid splitting volumes).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

from export_gate.errors import ConfigError

#: The filing kinds a rule's mechanism can be satisfied by.
FILING_KINDS: tuple[str, ...] = ("standard_contract", "certification", "security_assessment")

_FILING_RE = re.compile(r"^(?P<kind>[a-z_]+)=(?P<ref>.+?)(?:@(?P<date>\d{4}-\d{2}-\d{2}))?$")
#: Scope entries a filing can name besides data categories: all sensitive categories, or a dataset by URI glob.
SCOPE_SENSITIVE = "sensitive"
DATASET_PREFIX = "dataset:"


@dataclass(frozen=True)
class Filing:
    """A mechanism on file: a filed standard contract, a certification, or a security assessment approval.

    A filing on the register names the overseas ``recipients`` and the ``scope`` (data categories, ``sensitive``
    for every sensitive category, or ``dataset:<URI glob>``) it was filed for; it covers an export only when both
    match. A filing given for a one-off check (``--filing``) names neither and is taken as covering the export.
    """

    kind: str
    reference: str
    date: date | None = None
    valid_until: date | None = None
    recipients: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    origin: str = field(default="command line", compare=False)  # where it was given: informational

    def coverage_gap(self, recipient: str | None, categories: Iterable[str], uris: Sequence[str]) -> str | None:
        """Why this filing does not cover an export to ``recipient`` carrying ``categories`` from ``uris``;
        None when it does."""
        if self.recipients:
            if not recipient:
                return "the export names no recipient (give --recipient / recipient=)"
            if recipient.strip().casefold() not in {r.casefold() for r in self.recipients}:
                return f"it was filed for {', '.join(self.recipients)}, not for {recipient}"
        if not self.scope:
            return None
        globs = [s.removeprefix(DATASET_PREFIX) for s in self.scope if s.startswith(DATASET_PREFIX)]
        if globs and uris and all(any(fnmatch.fnmatchcase(u, g) for g in globs) for u in uris):
            return None
        named = set(self.scope)
        outside = sorted(c for c in categories if c not in named and not (c != "personal" and SCOPE_SENSITIVE in named))
        if outside:
            return f"its scope ({', '.join(self.scope)}) does not include {', '.join(outside)}"
        return None

    def last_valid_day(self, validity_years: int | None) -> date | None:
        """The last day the filing is valid: ``valid_until`` when given, else ``date`` plus the validity
        period the list sets for this kind (a security assessment result: 3 years, Order No. 16 Art. 9).
        None means it does not expire (or cannot be computed: the caller decides what that means)."""
        if self.valid_until is not None:
            return self.valid_until
        if self.date is None or not validity_years:
            return None
        return _add_years(self.date, validity_years) - timedelta(days=1)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "reference": self.reference,
            "date": self.date.isoformat() if self.date else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "recipients": list(self.recipients),
            "scope": list(self.scope),
            "origin": self.origin,
        }


def _add_years(day: date, years: int) -> date:
    """``day`` moved ``years`` calendar years on; 29 February becomes 1 March in a non-leap year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def parse_filing(text: str, where: str = "--filing") -> Filing:
    """Parse ``KIND=REF[@YYYY-MM-DD]``, e.g. ``security_assessment=SH-2025-001@2025-03-01``. ``where`` names the
    place the text came from in errors (the CLI's ``--filing``, the operator's ``filings=``, a review answer)."""
    match = _FILING_RE.match(text.strip())
    if not match:
        raise ConfigError(
            f"{where} {text!r}: expected KIND=REFERENCE[@YYYY-MM-DD] with KIND one of {', '.join(FILING_KINDS)}"
        )
    kind = match["kind"]
    if kind not in FILING_KINDS:
        raise ConfigError(f"{where} {text!r}: unknown kind {kind!r}; use one of {', '.join(FILING_KINDS)}")
    day = _parse_date(match["date"], f"{where} {text!r}") if match["date"] else None
    return Filing(kind=kind, reference=match["ref"].strip(), date=day)


def as_date(value: object) -> date:
    """A date as YAML/JSON give it (a date, a datetime, or text YYYY-MM-DD); ValueError for anything else.
    Shared by handler profiles and lists, so both accept exactly the same spellings."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _parse_date(value: object, where: str) -> date:
    try:
        return as_date(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a date; write YYYY-MM-DD") from None


def check_uscc(code: str, where: str = "uscc") -> str:
    """The unified social credit code in its compact form, or a ConfigError saying what is wrong with it.
    python-stdnum checks the GB 32100-2015 layout and check character; it also requires the first eight
    characters to be digits (registration authority, entity type, region), which every market-regulator
    code (first character 9) satisfies."""
    try:
        return uscc.validate(code)
    except InvalidChecksum:
        raise ConfigError(
            f"{where}: {code!r} is not a valid unified social credit code: its check character (the 18th) does not "
            "match (GB 32100-2015); copy the code from the business licence again"
        ) from None
    except ValidationError as exc:
        raise ConfigError(
            f"{where}: {code!r} is not a valid unified social credit code (18 characters, GB 32100-2015): {exc}"
        ) from None


@dataclass(frozen=True)
class Handler:
    """A data handler (数据处理者): the legal entity whose exports are counted together.

    ``uscc`` is the entity's unified social credit code; every handler id with the same code shares one ledger.
    ``count_ftz_exempt`` says whether exports allowed under an FTZ list's exemption (data off its negative list)
    still count towards the national year-to-date totals; True (the default) is the conservative reading,
    because whether Art. 6 exports count towards the Art. 7/8 thresholds is not settled (see the README).
    """

    id: str
    zone: str | None = None
    ciio: bool = False
    timezone: str = "Asia/Shanghai"
    filings: tuple[Filing, ...] = ()
    uscc: str | None = None
    count_ftz_exempt: bool = True

    def __post_init__(self) -> None:
        if self.uscc is not None:
            object.__setattr__(self, "uscc", check_uscc(self.uscc, f"handler {self.id!r} uscc"))

    @property
    def ledger_key(self) -> str:
        """Whose year-to-date ledger this handler's exports count into: the legal entity when its code is known."""
        return f"uscc:{self.uscc}" if self.uscc else self.id

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "zone": self.zone,
            "ciio": self.ciio,
            "timezone": self.timezone,
            "filings": [f.to_dict() for f in self.filings],
            "uscc": self.uscc,
            "ledger": self.ledger_key,
            "count_ftz_exempt": self.count_ftz_exempt,
        }


_HANDLER_FIELDS = {"id", "zone", "ciio", "timezone", "filings", "uscc", "count_ftz_exempt"}
_FILING_FIELDS = {"kind", "reference", "date", "valid_until", "recipients", "scope"}


def load_handler(path: str | Path) -> Handler:
    """Read a handler profile (YAML or JSON). Every mistake names the file and the field."""
    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the handler profile ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}{line}: the handler profile is not valid YAML/JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the handler profile must be a mapping with at least 'id'")
    unknown = sorted(set(data) - _HANDLER_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_HANDLER_FIELDS))}")
    handler_id = data.get("id")
    if not isinstance(handler_id, str) or not handler_id.strip():
        raise ConfigError(f"{where}: field 'id' must be a non-empty string naming the data handler")
    zone = data.get("zone")
    if zone is not None and (not isinstance(zone, str) or not zone.strip()):
        raise ConfigError(f"{where}: field 'zone' must be a zone id such as 'shanghai-ftz', or left out")
    ciio = data.get("ciio", False)
    if not isinstance(ciio, bool):
        raise ConfigError(f"{where}: field 'ciio' must be true or false")
    timezone = data.get("timezone", "Asia/Shanghai")
    _zoneinfo(timezone, f"{where}: field 'timezone'")
    raw_filings = data.get("filings") or []
    if not isinstance(raw_filings, list):
        raise ConfigError(f"{where}: field 'filings' must be a list")
    filings = tuple(_filing_from(item, f"{where}: filings[{i}]") for i, item in enumerate(raw_filings))
    code = data.get("uscc")
    if code is not None and not isinstance(code, str):
        raise ConfigError(f"{where}: field 'uscc' must be the 18-character unified social credit code, quoted")
    count_ftz_exempt = data.get("count_ftz_exempt", True)
    if not isinstance(count_ftz_exempt, bool):
        raise ConfigError(f"{where}: field 'count_ftz_exempt' must be true or false")
    return Handler(
        id=handler_id.strip(),
        zone=zone,
        ciio=ciio,
        timezone=timezone,
        filings=filings,
        uscc=check_uscc(code, f"{where}: field 'uscc'") if code is not None else None,
        count_ftz_exempt=count_ftz_exempt,
    )


def _filing_from(item: object, where: str) -> Filing:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: must be a mapping with kind and reference")
    unknown = sorted(set(item) - _FILING_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_FILING_FIELDS))}")
    kind = item.get("kind")
    if kind not in FILING_KINDS:
        raise ConfigError(f"{where}.kind: {kind!r} is not one of {', '.join(FILING_KINDS)}")
    reference = item.get("reference")
    if not isinstance(reference, str | int) or not str(reference).strip():
        raise ConfigError(f"{where}.reference: give the filing or approval reference")
    day = _parse_date(item["date"], f"{where}.date") if item.get("date") is not None else None
    until = _parse_date(item["valid_until"], f"{where}.valid_until") if item.get("valid_until") is not None else None
    lists = {}
    for name in ("recipients", "scope"):
        value = item.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{where}.{name}: must be a list of names")
        lists[name] = tuple(v.strip() for v in value)
    return Filing(kind=kind, reference=str(reference).strip(), date=day, valid_until=until, origin="profile", **lists)


def _zoneinfo(name: object, where: str) -> ZoneInfo:
    if not isinstance(name, str):
        raise ConfigError(f"{where} must be an IANA time zone name such as 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {name!r}; use an IANA name such as 'Asia/Shanghai'") from None


def period_year(handler: Handler, at: datetime) -> int:
    """The counting year (自当年1月1日起累计) an instant falls in, in the handler's time zone: an export at
    2024-12-31T16:30Z belongs to 2025 for a handler in Asia/Shanghai. A naive ``at`` is taken as UTC,
    as Airflow's logical dates are."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(_zoneinfo(handler.timezone, f"handler {handler.id!r} timezone")).year
