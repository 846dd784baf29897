"""Who the people in an export are, as keyed digests, and how partial results combine.

Which role's person each column is about is ``export_gate.people.roles`` (role words in detectors/roles.yaml);
which slots of a row are people, and which are one person, is ``export_gate.people.rows``. This module builds
the tables. Two ways to identify people (the report says which one was used, ``ExportSubjects.identified_by``;
the rule in words is ``IDENTIFICATION_RULES``):

* Subject keys: the user names the columns that identify people (``--subject-key patient_id
  --subject-key reporter_id``): one person per distinct value of each key column (``by_key``). A row whose key
  cell is empty still holds a person: it counts as one person of its own (count high, never low). Two key
  columns holding the same value on a row are one person (their digests are linked: keys of one id space).
  A column naming a role no key has (``beneficiary_name``) is that role's person, inferred as below.
* Strong identifiers (``inferred``): each (role, row) with findings is a slot; findings that carry a normalised
  identifier (resident ID, mobile, passport, e-mail, bank card, ..., and pseudonymous person keys such as
  ``patient_no``) link that slot's person to every slot holding the same identifier (union-find; the same
  mobile written two ways is one person, the same reporter phone on many rows is one reporter), but slots of
  different roles on one row are never linked for being on one row. A slot with findings but no identifier
  is one person of its own. A row with no personal information is nobody.

Each batch's people are an ``ExportSubjects`` table (every identifier digest pointing at its person's
canonical, smallest, digest); ``export_gate.people.union`` merges the tables of batches, files, workers or
partitions by union, which gives exactly the subjects of one pass however the data is split.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
#: Strong-identifier rules in words, for the report (keyed by whether people were inferred).
IDENTIFICATION_RULES = {
    False: "One person per distinct value of each subject key column; two key columns holding the same value on a "
    "row are one person (keys of one id space). A column belongs to the key whose name, without its last _suffix, "
    "starts the column name or whose role word it shares (reporter_phone, 报告人电话 -> reporter_id); a column "
    "naming a role no key has (beneficiary_name) is a person of its own, identified by its strong identifiers or "
    "else one per row, unless its name or identifier equals the keyed person's on that row; other columns belong "
    "to the first key. A row with findings but an empty key counts as one person of its own.",
    True: "No subject key given: a row may hold several people. Each column belongs to the role a role word "
    "starting its name or its last path segment names (patient/患者, reporter/报告人, consignee/收货人, "
    "guardian/监护人, doctor/医生, ...; longest word wins); columns naming none belong to the row's own person "
    "(the one role named, or the role of the one pseudonymous person key column such as patient_no). People "
    "holding the same normalised strong identifier or person key are one person, whatever the row and role; a "
    "role whose name or identifier equals another role's on the row is that person. A finding counts only when "
    "its row has someone it can belong to (a key, a name, a birth date or a strong identifier): findings with "
    "nobody on the row are reported per column, not counted. A person with findings but no identifier counts "
    "once per row, so the count errs high.",
}


def identified_by(subject_keys: Sequence[str]) -> str:
    """How subjects are identified, as the report and the ledger record it."""
    return "subject_keys:" + ",".join(subject_keys) if subject_keys else STRONG_IDENTIFIERS


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: Names the people of ``rows`` who are known only by their row: ``row_subjects(rows, kind)`` -> digest words.
RowSubjects = Callable[[np.ndarray, str], np.ndarray]


def by_key(
    role_masks: dict[str, np.ndarray],
    key_values: dict[str, Sequence[object]],
    row_subjects: RowSubjects,
    hasher: SubjectHasher,
    aliases: Sequence[np.ndarray] = (),
) -> ExportSubjects:
    """People of one batch named by subject key columns.

    ``role_masks[key][i]`` is the mask of what row ``i`` holds about the person in role ``key``;
    ``key_values[key][i]`` is that person's key. A person whose key is empty is named by ``row_subjects``.
    Each of ``aliases`` is a (2, n, 2) array of key digests to link pairwise (one person under two keys).
    """
    digests, masks, edges = [], [], []
    for key, role in role_masks.items():
        rows = np.flatnonzero(role)
        values = key_values[key]
        texts = [None if is_blank(value) else str(value).strip() for value in (values[row] for row in rows.tolist())]
        named = np.array([text is not None for text in texts], dtype=bool)
        distinct = list(dict.fromkeys(text for text in texts if text is not None))
        number = {text: i for i, text in enumerate(distinct)}
        key_digests = hasher.digests(zip(repeat(f"key:{key}"), distinct))
        digests += [
            key_digests[[number[text] for text in texts if text is not None]],
            row_subjects(rows[~named], f"{ROW_KIND}:{key}"),
        ]
        masks += [role[rows[named]], role[rows[~named]]]
    start = sum(len(part) for part in digests)
    for pair in aliases:
        count = len(pair[0])
        digests += [pair[0], pair[1]]
        masks.append(np.zeros(2 * count, dtype=np.uint16))
        edges.append(np.column_stack([np.arange(count), np.arange(count, 2 * count)]) + start)
        start += 2 * count
    if not digests:
        return ExportSubjects(identified_by=identified_by(list(role_masks)))
    links = np.concatenate(edges).astype(np.int64) if edges else np.zeros((0, 2), np.int64)
    return build(np.concatenate(digests), np.concatenate(masks), links, identified_by=identified_by(list(role_masks)))


def inferred(
    role_masks: Mapping[str, np.ndarray],
    identifier_rows: Mapping[str, np.ndarray],
    identifier_digests: Mapping[str, np.ndarray],
    row_subjects: RowSubjects,
    how: str = STRONG_IDENTIFIERS,
) -> ExportSubjects:
    """People of one batch inferred from strong identifiers, one possible person per role and row.

    ``role_masks[role][i]`` is everything row ``i`` holds about its person in ``role``; the pairs
    (``identifier_rows[role][j]``, ``identifier_digests[role][j]``) say which identifier digests that role's
    columns hold on which row. Each (role, row) is a slot; the identifiers of a slot are one person (linked to
    one identifier of the slot, which carries the slot's mask), and the same identifier in two slots joins
    them; roles of one row are never linked directly. A slot with findings but no identifier is a person named
    by ``row_subjects`` (``kind`` carries the role). ``how`` is the table's ``identified_by`` (the roles without
    a key of a scan by subject keys are inferred too).
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
    return build(np.concatenate(digests), np.concatenate(masks), edges, identified_by=how)
