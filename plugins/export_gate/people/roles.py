"""Whose a column is: the roles of detectors/roles.yaml (patient, reporter, consignee, ...), the words in column
names that name them, and the pseudonymous person key columns (patient_id, 客户编号) that say who a row is about.

The role words are data beside the recognizers, checked as strictly as the lists: a mistake names the file,
the line and the field (``detectors/roles.yaml:12: roles.doctor[2]: ...``) and stops the gate (exit 2).

Column names are matched lower-cased, on the whole name and on the last segment of a nested path
(``shipping.consignee_phone`` names the consignee, ``customs.buyer_name`` the buyer); the longest role word
wins. An English word must end at a separator (``reporter_phone``; ``reporters_note`` names nobody), a Chinese
word may run on (``报告人电话``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from export_gate.checked_yaml import Checker, Loader
from export_gate.errors import ConfigError
from export_gate.resources import detectors_dir

#: What may follow an English role word or key prefix in a column name: reporter_phone, reporter.phone,
#: reporter[].phone, reporter{}, "reporter phone", reporter-phone. A Chinese word needs none (报告人电话).
SEPARATORS = frozenset("_.[{ -")
#: The role of the columns that name no role, when the columns name two or more.
DEFAULT_ROLE = ""
_FILE = "detectors/roles.yaml"
_FIELDS = ("roles", "key_suffixes", "key_columns", "same_by_name", "known_by_name")


@dataclass(frozen=True)
class Roles:
    """The checked content of roles.yaml: ``words`` (lower-case word -> role), ``key_suffixes``,
    ``key_columns`` (lower-case whole column name -> role), ``same_by_name`` (pairs of roles, both orders) and
    ``known_by_name`` (staff roles whose people a name identifies)."""

    words: Mapping[str, str]
    key_suffixes: tuple[str, ...]
    key_columns: Mapping[str, str]
    same_by_name: frozenset[tuple[str, str]]
    known_by_name: frozenset[str]


class _Checker(Checker):
    """The YAML files' checker with what roles.yaml adds: mappings whose keys are role names, lists of words."""

    def mapping(self, node: yaml.Node, where: str) -> list[tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, "must be a mapping")
            return []
        seen: set[str] = set()
        for key, _ in node.value:
            if key.value in seen:
                self.problem(key, f"{where}.{key.value}" if where else key.value, "appears twice")
            seen.add(key.value)
        return list(node.value)

    def words(self, node: yaml.Node, where: str) -> list[tuple[yaml.Node, str]]:
        """A non-empty list of lower-case words without spaces (a column name is matched lower-cased)."""
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, where, "must be a non-empty list of words")
            return []
        out = []
        for i, item in enumerate(node.value):
            text = item.value if isinstance(item, yaml.ScalarNode) and item.tag.endswith(":str") else None
            if not text or not text.strip():
                self.problem(item, f"{where}[{i}]", "must be a non-empty word")
            elif text != text.strip().lower() or " " in text:
                self.problem(item, f"{where}[{i}]", f"{text!r} must be lower case without spaces")
            else:
                out.append((item, text))
        return out


def check(text: str, file: str = _FILE) -> tuple[Roles | None, list[str]]:
    """The roles of a roles.yaml text and the problems found (each ``file:line: field: message``); the
    roles are None when there is any problem."""
    loader = Loader(text)
    checker = _Checker(file, loader)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [f"{file}:{mark.line + 1 if mark else 1}: (top): not valid YAML: {exc}"]
    if root is None:
        return None, [f"{file}:1: (top): is empty; it must name {', '.join(_FIELDS)}"]
    top = checker.mapping(root, "(top)")
    fields = {key.value: value for key, value in top}
    for key, _ in top:
        if key.value not in _FIELDS:
            checker.problem(key, key.value, f"unknown field; allowed: {', '.join(_FIELDS)}")
    for name in _FIELDS:
        if name not in fields and isinstance(root, yaml.MappingNode):
            checker.problem(root, name, "is required")
    words: dict[str, str] = {}
    for role_node, words_node in checker.mapping(fields["roles"], "roles") if "roles" in fields else []:
        for item, word in checker.words(words_node, f"roles.{role_node.value}"):
            if word in words:
                checker.problem(item, f"roles.{role_node.value}", f"{word!r} is already a word of {words[word]}")
            words[word] = role_node.value
    suffixes = [w for _, w in checker.words(fields["key_suffixes"], "key_suffixes")] if "key_suffixes" in fields else []
    key_columns: dict[str, str] = {}
    for role_node, names in checker.mapping(fields["key_columns"], "key_columns") if "key_columns" in fields else []:
        if role_node.value not in set(words.values()):
            checker.problem(role_node, f"key_columns.{role_node.value}", "is not a role named under roles")
        for _, name in checker.words(names, f"key_columns.{role_node.value}"):
            key_columns[name] = role_node.value
    pairs: set[tuple[str, str]] = set()
    same = fields.get("same_by_name")
    if same is not None and not isinstance(same, yaml.SequenceNode):
        checker.problem(same, "same_by_name", "must be a list of [role, role] pairs")
    for i, pair in enumerate(same.value if isinstance(same, yaml.SequenceNode) else []):
        named = [w for _, w in checker.words(pair, f"same_by_name[{i}]")]
        unknown = [role for role in named if role not in set(words.values())]
        if len(named) != 2 or unknown:
            checker.problem(pair, f"same_by_name[{i}]", "must be two roles named under roles")
        else:
            pairs |= {(named[0], named[1]), (named[1], named[0])}
    by_name: set[str] = set()
    if "known_by_name" in fields:
        for item, role in checker.words(fields["known_by_name"], "known_by_name"):
            if role not in set(words.values()):
                checker.problem(item, "known_by_name", f"{role!r} is not a role named under roles")
            by_name.add(role)
    if checker.problems:
        return None, checker.problems
    suffixes_longest_first = tuple(sorted(suffixes, key=len, reverse=True))
    return Roles(words, suffixes_longest_first, key_columns, frozenset(pairs), frozenset(by_name)), []


def check_file(path: str | Path) -> list[str]:
    """The problems of a roles.yaml file (empty: it is fine)."""
    return check(Path(path).read_text(encoding="utf-8"), str(path))[1]


@cache
def load() -> Roles:
    """The shipped detectors/roles.yaml, checked; ConfigError (exit 2) naming every problem otherwise."""
    roles, problems = check((detectors_dir() / "roles.yaml").read_text(encoding="utf-8"))
    if roles is None:
        raise ConfigError("; ".join(problems))
    return roles


def _segments(column: str) -> list[str]:
    """The names a role word may start: the whole column name and the last segment of its path."""
    name = column.lower()
    last = [s for s in re.split(r"[.\[\]{}]+", name) if s]
    return [name, last[-1]] if last and last[-1] != name else [name]


def claimant(column: str, claims: Mapping[str, str]) -> str | None:
    """The role whose word (lower case, in ``claims``) starts the column name or its last path segment,
    followed by a separator or, for a word ending in a non-ASCII letter, by anything; the longest word wins."""
    best, best_len = None, -1
    for name in _segments(column):
        for word, role in claims.items():
            if len(word) <= best_len or not name.startswith(word):
                continue
            rest = name[len(word) : len(word) + 1]
            if not rest or rest in SEPARATORS or not word[-1].isascii():
                best, best_len = role, len(word)
    return best


def same_by_name(role: str, other: str) -> bool:
    """Whether equal names on a row make the people of two roles one person (``same_by_name``)."""
    return (role, other) in load().same_by_name


def known_by_name(role: str) -> bool:
    """Whether the same name in a role's columns is one person (``known_by_name``: staff such as doctors)."""
    return role in load().known_by_name


def role_word(column: str) -> str | None:
    """The role a column's name names (see the module docstring), or None."""
    return claimant(column, load().words)


def person_key_role(column: str) -> str | None:
    """The role whose pseudonymous person key the column is (``patient_id``, ``customer_no``, ``客户编号``,
    ``uid``): a role word followed by nothing but a key suffix, or a key column of roles.yaml. None otherwise
    (``patient_id_card`` is an ID card number, not a key)."""
    roles = load()
    for name in _segments(column):
        if name in roles.key_columns:
            return roles.key_columns[name]
        for suffix in roles.key_suffixes:
            stem = name.removesuffix(suffix)
            if stem == name or not stem:
                continue
            if stem[-1] in SEPARATORS:
                stem = stem[:-1]
            elif stem[-1].isascii() and suffix.isascii():
                continue  # "patientno" is no key; "patient_no" and "患者编号" are
            if stem in roles.words:
                return roles.words[stem]
    return None


def role_of(column: str, subject_keys: Sequence[str]) -> str | None:
    """Whose a column is when subject keys are given: the key itself; the key whose name without its last
    ``_suffix`` starts the column name (``reporter_phone`` -> ``reporter_id``, the longest such prefix wins) or
    whose role word the column's role word matches (``患者姓名`` -> ``patient_id``); a role no key has when the
    column names one (``beneficiary_name`` -> ``beneficiary``: a person of their own, never folded into a key);
    else the first key. None without keys."""
    if not subject_keys:
        return None
    name = column.lower()
    for key in subject_keys:
        if name == key.lower():
            return key
    claims: dict[str, str] = {}
    for key in reversed(subject_keys):  # equal prefixes: the first key's claim stays
        lowered = key.lower()
        claims[lowered.rsplit("_", 1)[0] if "_" in lowered else lowered] = key
    by_prefix = claimant(column, claims)
    if by_prefix is not None:
        return by_prefix
    named = role_word(column)
    if named is None:
        return subject_keys[0]
    return next((key for key in subject_keys if role_word(key) == named), named)


def inferred_roles(columns: Iterable[str]) -> dict[str, str]:
    """Each column's role without subject keys: the role its name names; a column naming none belongs to the
    row's own person: the one role the columns name, else the one role a person key column names, else
    ``DEFAULT_ROLE`` (who a diagnosis or a narrative is about is then uncertain)."""
    named = {column: role_word(column) or person_key_role(column) for column in columns}
    roles = {role for role in named.values() if role is not None}
    keyed = {person_key_role(column) for column in named} - {None}
    default = next(iter(roles)) if len(roles) == 1 else next(iter(keyed)) if len(keyed) == 1 else DEFAULT_ROLE
    return {column: role or default for column, role in named.items()}
