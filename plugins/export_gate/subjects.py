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

Partial results (per batch, file, worker or partition) are ``ExportSubjects``: digest -> mask, plus aliases
linking every other identifier of a person to its canonical digest. The canonical digest of a person is the
smallest digest of their identifiers, so however the data is split, merging the parts by union gives
exactly the subjects of one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from export_gate.digest import SubjectHasher
from export_gate.model import ExportSubjects

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


class SubjectSet:
    """Distinct people under union: add a person's mask, link two identifiers of one person, merge parts.

    Each component is represented by its smallest digest (its root). ``_parent`` holds only non-roots, so a
    person known by one identifier costs one entry.
    """

    def __init__(self, how: str) -> None:
        self.identified_by = how
        self._masks: dict[bytes, int] = {}
        self._parent: dict[bytes, bytes] = {}

    def find(self, digest: bytes) -> bytes:
        parent = self._parent
        root = digest
        while root in parent:
            root = parent[root]
        while digest != root:  # path compression keeps later look-ups short
            parent[digest], digest = root, parent[digest]
        return root

    def add(self, digest: bytes, mask: int) -> None:
        """Record ``mask`` for the person with this identifier digest."""
        root = self.find(digest)
        self._masks[root] = self._masks.get(root, 0) | mask

    def link(self, a: bytes, b: bytes) -> bytes:
        """Declare two identifier digests to belong to one person; returns the person's canonical digest."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        low, high = (ra, rb) if ra < rb else (rb, ra)
        self._parent[high] = low
        masks = self._masks
        if high in masks:
            masks[low] = masks.get(low, 0) | masks.pop(high)
        return low

    def update(self, part: ExportSubjects) -> None:
        """Merge a partial result in (union)."""
        if part.identified_by != self.identified_by:
            raise ValueError(f"cannot merge subjects identified by {part.identified_by!r} into {self.identified_by!r}")
        for alias, canonical in part.aliases.items():
            self.link(alias, canonical)
        for digest, mask in part.masks.items():
            self.add(digest, mask)

    def result(self) -> ExportSubjects:
        """The people so far, every alias pointing straight at its canonical digest. The result shares this
        set's dictionaries instead of copying them (millions of people): merge nothing more after it."""
        parent = self._parent
        for alias in parent:
            parent[alias] = self.find(alias)
        return ExportSubjects(masks=self._masks, aliases=parent, identified_by=self.identified_by)


def merge(parts: Iterable[ExportSubjects], how: str) -> ExportSubjects:
    """The union of partial results, identical to what one pass over all the data gives."""
    subjects = SubjectSet(how)
    for part in parts:
        subjects.update(part)
    return subjects.result()


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def by_key(
    role_masks: dict[str, np.ndarray],
    key_values: dict[str, Sequence[object]],
    row_subject: Callable[[int, str], bytes],
    hasher: SubjectHasher,
) -> ExportSubjects:
    """People of one batch named by subject key columns.

    ``role_masks[key][i]`` is the mask of what row ``i`` holds about the person in role ``key``;
    ``key_values[key][i]`` is that person's key. ``row_subject(i, key)`` names a person whose key is empty.
    """
    subjects = SubjectSet(identified_by(list(role_masks)))
    for key, masks in role_masks.items():
        values = key_values[key]
        digests: dict[str, bytes] = {}
        for row in np.flatnonzero(masks).tolist():
            value = values[row]
            if _is_blank(value):
                digest = row_subject(row, f"{ROW_KIND}:{key}")
            else:
                text = str(value).strip()
                digest = digests.get(text)
                if digest is None:
                    digest = digests[text] = hasher.digest(f"key:{key}", text)
            subjects.add(digest, int(masks[row]))
    return subjects.result()


def _components(size: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph with nodes 0..size-1 and edges (a[i], b[i]): each node's label is
    the smallest node of its component. Array work (hooking roots onto smaller roots, then pointer jumping),
    a few rounds for the shallow graphs identifiers make."""
    labels = np.arange(size, dtype=np.int64)
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def inferred(
    role_masks: Mapping[str, np.ndarray],
    identifier_rows: Mapping[str, np.ndarray],
    identifier_digests: Mapping[str, Sequence[bytes]],
    row_subject: Callable[[int, str], bytes],
) -> ExportSubjects:
    """People of one batch inferred from strong identifiers, one possible person per role and row.

    ``role_masks[role][i]`` is everything row ``i`` holds about its person in ``role``; the pairs
    (``identifier_rows[role][j]``, ``identifier_digests[role][j]``) say which identifier digests that role's
    columns hold on which row. Each (role, row) is a slot; identifiers link slots, never roles of one row
    directly. Identifiers are numbered in digest order, so the smallest number of a component is its canonical
    (smallest) digest. ``row_subject(i, kind)`` names a person known only by row ``i`` (``kind`` carries the role).
    """
    roles = list(role_masks)
    n = len(role_masks[roles[0]]) if roles else 0
    slot_masks = np.concatenate([np.asarray(role_masks[role]) for role in roles] or [np.zeros(0, np.uint16)])
    slot_parts = [np.asarray(identifier_rows.get(role, ()), dtype=np.int64) + i * n for i, role in enumerate(roles)]
    slots = np.concatenate(slot_parts or [np.zeros(0, np.int64)])
    digests = [digest for role in roles for digest in identifier_digests.get(role, ())]
    distinct = sorted(set(digests))
    number = {digest: i for i, digest in enumerate(distinct)}
    nodes = np.fromiter(map(number.__getitem__, digests), dtype=np.int64, count=len(digests))
    order = np.argsort(slots, kind="stable")
    slots, nodes = slots[order], nodes[order]
    starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]]) if len(slots) else np.zeros(0, dtype=np.int64)
    anchors = np.repeat(nodes[starts], np.diff(np.r_[starts, len(slots)]))  # each pair's slot's first identifier
    labels = _components(len(distinct), nodes, anchors)
    slot_label = np.full(len(slot_masks), -1, dtype=np.int64)
    slot_label[slots[starts]] = labels[nodes[starts]]
    personal = np.flatnonzero(slot_masks)
    linked = personal[slot_label[personal] >= 0]
    component_masks = np.zeros(len(distinct), dtype=np.int64)
    np.bitwise_or.at(component_masks, slot_label[linked], slot_masks[linked].astype(np.int64))
    roots = np.flatnonzero(labels == np.arange(len(distinct)))
    masks = dict(zip([distinct[i] for i in roots.tolist()], component_masks[roots].tolist(), strict=True))
    for slot in personal[slot_label[personal] < 0].tolist():
        role = roles[slot // n]
        masks[row_subject(slot % n, f"{ROW_KIND}:{role}" if role else ROW_KIND)] = int(slot_masks[slot])
    others = np.flatnonzero(labels != np.arange(len(distinct)))
    aliases = dict(
        zip([distinct[i] for i in others.tolist()], [distinct[i] for i in labels[others].tolist()], strict=True)
    )
    return ExportSubjects(masks=masks, aliases=aliases, identified_by=STRONG_IDENTIFIERS)
