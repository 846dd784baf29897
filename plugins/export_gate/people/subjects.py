"""Who the people in an export are, as keyed digests, and how partial results combine.

Two ways to identify people (the report says which one was used, ``ExportSubjects.identified_by``; the rule in
words is ``IDENTIFICATION_RULES``):

* Subject keys: the user names the columns that identify people (``--subject-key patient_id
  --subject-key reporter_id``). Every column's findings belong to one role: the key whose name, without its
  last ``_``-suffix, prefixes the column name (``reporter_phone``, ``reporter.address`` and ``reporter[].mobile``
  belong to ``reporter_id``; the longest such prefix wins); a column no key claims belongs to the first key. A row whose
  key cell is empty still holds a person: it counts as one person of its own (count high, never low).
* Strong identifiers: without keys, a row may still hold several people (a patient and the reporter of an
  adverse event). Each column belongs to the role a role word starting its name names (``ROLE_WORDS``:
  ``reporter_phone`` and ``报告人电话`` -> reporter, ``emergency_contact_mobile`` -> emergency contact; the longest
  word wins), by the same prefix rule as subject keys. When the columns name at most one role, every column
  belongs to it (one person per row, as with one subject key). When they name two or more, a column naming no
  role belongs to the row's unnamed person (``DEFAULT_ROLE``): who a diagnosis or a narrative is about is
  uncertain, so it is one more person rather than a guess that could fold it into a named one.
  On each row, each role with findings is one person; findings that carry a normalised identifier (resident ID,
  mobile, passport, e-mail, bank card, ...) link that role's person to every row's person holding the same
  identifier (union-find; the same mobile written two ways is one person, the same reporter phone on many rows
  is one reporter), but identifiers of different roles on one row never link. A role with findings but no
  strong identifier on a row is one person of its own. A row with no personal information is nobody.

Each batch's people are an ``ExportSubjects`` table (every identifier digest pointing at its person's
canonical, smallest, digest); ``export_gate.people.union`` merges the tables of batches, files, workers or
partitions by union, which gives exactly the subjects of one pass however the data is split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat

import numpy as np

from export_gate.model import ExportSubjects
from export_gate.people.digest import SubjectHasher
from export_gate.people.union import build

_NO_DIGESTS = np.zeros((0, 2), dtype=np.uint64)
#: ``identified_by`` when people were inferred from shared strong identifiers.
STRONG_IDENTIFIERS = "strong_identifiers"
#: Digest type of a person who is known only by the row they are on.
ROW_KIND = "row"
#: Role of the columns that name no role, when the columns name two or more.
DEFAULT_ROLE = ""
#: What may follow an English role word or key prefix in a column name: reporter_phone, reporter.phone,
#: reporter[].phone, reporter{}, "reporter phone", reporter-phone. A Chinese word needs none (报告人电话).
_ROLE_SEPARATORS = frozenset("_.[{ -")
#: Role words (lower case) and the role they name; synonyms name one role, so 患者姓名 and patient_phone
#: are the same person's.
ROLE_WORDS: dict[str, str] = {
    **dict.fromkeys(["patient", "患者", "病人", "就诊人"], "patient"),
    **dict.fromkeys(["reporter", "报告人", "报告者", "上报人"], "reporter"),
    **dict.fromkeys(["insured", "被保险人", "被保人"], "insured"),
    **dict.fromkeys(["policyholder", "policy_holder", "applicant", "投保人"], "policyholder"),
    **dict.fromkeys(["beneficiary", "受益人"], "beneficiary"),
    **dict.fromkeys(["contact", "联系人"], "contact"),
    **dict.fromkeys(["emergency_contact", "紧急联系人"], "emergency_contact"),
    **dict.fromkeys(["guardian", "监护人"], "guardian"),
    **dict.fromkeys(["doctor", "physician", "医生", "医师"], "doctor"),
    **dict.fromkeys(["nurse", "护士"], "nurse"),
    **dict.fromkeys(["agent", "代理人"], "agent"),
    **dict.fromkeys(["customer", "client", "客户"], "customer"),
    **dict.fromkeys(["account_manager", "客户经理"], "account_manager"),
    **dict.fromkeys(["employee", "staff", "员工", "职工"], "employee"),
    **dict.fromkeys(["sender", "寄件人", "发件人"], "sender"),
    **dict.fromkeys(["recipient", "receiver", "收件人", "收货人"], "recipient"),
}
#: Strong-identifier rules in words, for the report (keyed by whether people were inferred).
IDENTIFICATION_RULES = {
    False: "One person per distinct value of each subject key column. A column belongs to the key whose name, "
    "without its last _suffix, starts the column name (reporter_phone -> reporter_id), else to the first key. "
    "A row with findings but an empty key counts as one person of its own.",
    True: "No subject key given: a row may hold several people. Each column belongs to the role a role word "
    "starting its name names (patient/患者, reporter/报告人, insured/被保险人, contact/联系人, ...; longest word "
    "wins). If the columns name two or more roles, the columns naming none belong to one more person of the row; "
    "otherwise every column belongs to the one role. On each row, each role with findings is a person. People "
    "holding the same normalised strong identifier (resident ID, mobile, passport, e-mail, bank card, ...) are one "
    "person, whatever the row and role; people of different roles on one row are never linked for sharing it. "
    "A role with findings but no strong identifier on a row counts as one person of its own, so the count errs "
    "high.",
}


def identified_by(subject_keys: Sequence[str]) -> str:
    """How subjects are identified, as the report and the ledger record it."""
    return "subject_keys:" + ",".join(subject_keys) if subject_keys else STRONG_IDENTIFIERS


def _claimant(column: str, claims: Mapping[str, str]) -> str | None:
    """The role whose word (lower case, in ``claims``) starts the column name, followed by a separator or, for
    a word ending in a non-ASCII letter, by anything; the longest such word wins. None when no word does."""
    name = column.lower()
    best, best_len = None, -1
    for word, role in claims.items():
        if len(word) <= best_len or not name.startswith(word):
            continue
        rest = name[len(word) : len(word) + 1]
        if not rest or rest in _ROLE_SEPARATORS or not word[-1].isascii():
            best, best_len = role, len(word)
    return best


def role_of(column: str, subject_keys: Sequence[str]) -> str | None:
    """The subject key whose person a column's findings belong to (see the module docstring for the rule)."""
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
    return _claimant(column, claims) or subject_keys[0]


def role_word(column: str) -> str | None:
    """The role (a ``ROLE_WORDS`` value) a column's name starts with, or None."""
    return _claimant(column, ROLE_WORDS)


def inferred_roles(columns: Iterable[str]) -> dict[str, str]:
    """Each column's role without subject keys: its role word's role; a column naming none belongs to the one
    role the columns name, or to ``DEFAULT_ROLE`` when they name none or several (see the module docstring)."""
    named = {column: role_word(column) for column in columns}
    roles = {role for role in named.values() if role is not None}
    default = next(iter(roles)) if len(roles) == 1 else DEFAULT_ROLE
    return {column: role or default for column, role in named.items()}


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: Names the people of ``rows`` who are known only by their row: ``row_subjects(rows, kind)`` -> digest words.
RowSubjects = Callable[[np.ndarray, str], np.ndarray]


def by_key(
    role_masks: dict[str, np.ndarray],
    key_values: dict[str, Sequence[object]],
    row_subjects: RowSubjects,
    hasher: SubjectHasher,
) -> ExportSubjects:
    """People of one batch named by subject key columns.

    ``role_masks[key][i]`` is the mask of what row ``i`` holds about the person in role ``key``;
    ``key_values[key][i]`` is that person's key. A person whose key is empty is named by ``row_subjects``.
    """
    digests, masks = [], []
    for key, role in role_masks.items():
        rows = np.flatnonzero(role)
        values = key_values[key]
        texts = [None if _is_blank(value) else str(value).strip() for value in (values[row] for row in rows.tolist())]
        named = np.array([text is not None for text in texts], dtype=bool)
        distinct = list(dict.fromkeys(text for text in texts if text is not None))
        number = {text: i for i, text in enumerate(distinct)}
        key_digests = hasher.digests(zip(repeat(f"key:{key}"), distinct))
        digests += [
            key_digests[[number[text] for text in texts if text is not None]],
            row_subjects(rows[~named], f"{ROW_KIND}:{key}"),
        ]
        masks += [role[rows[named]], role[rows[~named]]]
    if not digests:
        return ExportSubjects(identified_by=identified_by(list(role_masks)))
    return build(np.concatenate(digests), np.concatenate(masks), identified_by=identified_by(list(role_masks)))


def inferred(
    role_masks: Mapping[str, np.ndarray],
    identifier_rows: Mapping[str, np.ndarray],
    identifier_digests: Mapping[str, np.ndarray],
    row_subjects: RowSubjects,
) -> ExportSubjects:
    """People of one batch inferred from strong identifiers, one possible person per role and row.

    ``role_masks[role][i]`` is everything row ``i`` holds about its person in ``role``; the pairs
    (``identifier_rows[role][j]``, ``identifier_digests[role][j]``) say which identifier digests that role's
    columns hold on which row. Each (role, row) is a slot; the identifiers of a slot are one person (linked to
    one identifier of the slot, which carries the slot's mask), and the same identifier in two slots joins
    them; roles of one row are never linked directly. A slot with findings but no identifier is a person named
    by ``row_subjects`` (``kind`` carries the role).
    """
    roles = list(role_masks)
    n = len(role_masks[roles[0]]) if roles else 0
    slot_masks = np.concatenate([np.asarray(role_masks[role]) for role in roles] or [np.zeros(0, np.uint16)])
    slot_parts = [np.asarray(identifier_rows.get(role, ()), dtype=np.int64) + i * n for i, role in enumerate(roles)]
    slots = np.concatenate(slot_parts or [np.zeros(0, np.int64)])
    words = np.concatenate([identifier_digests.get(role, _NO_DIGESTS) for role in roles] or [_NO_DIGESTS])
    pairs = np.arange(len(slots))
    anchor = np.full(len(slot_masks), len(slots))
    anchor[slots] = pairs  # each slot's anchor: one of its pairs (any will do: the people come out the same)
    named = anchor < len(slots)
    anchors = anchor[slots]
    linked = np.flatnonzero(anchors != pairs)
    edges = np.column_stack([linked, anchors[linked]])
    pair_masks = np.zeros(len(slots), dtype=np.uint16)
    pair_masks[anchor[named]] = slot_masks[named]
    lonely = np.flatnonzero((slot_masks != 0) & ~named)
    digests, masks = [words], [pair_masks]
    for i, role in enumerate(roles):
        mine = lonely[(lonely >= i * n) & (lonely < (i + 1) * n)]
        digests.append(row_subjects(mine - i * n, f"{ROW_KIND}:{role}" if role else ROW_KIND))
        masks.append(slot_masks[mine])
    return build(np.concatenate(digests), np.concatenate(masks), edges, identified_by=STRONG_IDENTIFIERS)
