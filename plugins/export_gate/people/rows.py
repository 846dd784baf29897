"""The people of one batch's rows: each role's person on each row (a slot), whether someone is there for a
finding to belong to (anchoring), and who on a row is one person (folding).

The engine adds, per column, what each row holds about the person of the column's role (``add``), the strong
identifiers found (``add_identifiers``), name cells (``add_names``) and pseudonymous person key columns
(``add_person_key``); ``people`` then applies the counting rules, in this order:

1. Keys of one id space: two subject key columns holding the same value on a row (``holder_id`` =
   ``insured_id``: a self-insured policy) are one person, on that row and wherever else either key has that
   value (the two key digests are linked).
2. Same person, two roles: a role with no key of its own (a consignee, a beneficiary, the row's person without
   keys) whose strong identifier equals one of another role on the same row is that role's person; so is one
   whose name equals the other role's when roles.yaml says the two are often one person (``same_by_name``:
   the buyer receiving their own parcel). It is folded into it. Equal names alone never join other roles:
   two people of one name on a row would be counted as one.
   A role of staff known by name (roles.yaml ``known_by_name``: an attending doctor) has the same person wherever
   the same name appears in its columns; a name alone never joins the people an export is about.
3. Anchoring: a slot counts as a person only when it is anchored: its subject key or pseudonymous person key
   has a value, or it holds a name, a birth date or a strong identifier (``ANCHOR_ENTITIES``, identifiers). An
   unanchored slot's findings (a diagnosis, an address, an account number) belong to the anchored people of
   its row, if any (the findings of the columns naming no role, ``DEFAULT_ROLE``, always do, anchored or
   not); on a row with nobody anchored they belong to nobody: they are not counted but returned as
   ``unanchored`` so the report shows which columns held how many such cells. ``count_unanchored`` (the strict
   setting) counts each such slot as a person of its own instead.
4. What is left goes to ``subjects.by_key`` (slots of subject keys) and ``subjects.inferred`` (every other
   slot, linked by shared identifiers and person keys); the two tables merge by union.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from export_gate.model import ExportSubjects
from export_gate.people.digest import SubjectHasher
from export_gate.people.roles import DEFAULT_ROLE, known_by_name, role_word, same_by_name
from export_gate.people.subjects import RowSubjects, by_key, identified_by, inferred, is_blank
from export_gate.people.union import merge

#: Entities that say someone is there besides strong identifiers (which always do): a name, a birth date.
ANCHOR_ENTITIES = frozenset({"PERSON", "BIRTH_DATE"})
#: Digest type of a pseudonymous person key (``patient_no`` values), per role.
PERSON_KEY_KIND = "person_key"
#: Digest type of the name of a person of a role known by name (an attending doctor), per role.
NAME_KIND = "name"
_NO_ROWS = np.zeros(0, np.int64)
_NO_WORDS = np.zeros((0, 2), np.uint64)


def trimmed(values: pa.Array) -> pa.Array:
    """Cells as text without surrounding whitespace: how a key or name is compared and digested."""
    return pc.utf8_trim_whitespace(values.cast(pa.string()) if not pa.types.is_string(values.type) else values)


def present(texts: pa.Array) -> np.ndarray:
    """Which cells of ``trimmed`` texts hold a value: not null and not blank."""
    return pc.fill_null(pc.greater(pc.utf8_length(texts), 0), False).to_numpy(zero_copy_only=False)


@dataclass
class BatchPeople:
    """Per role, per row of one batch: mask of what the row holds about the role's person, anchoring, and the
    identifiers, names and person keys seen (see the module docstring)."""

    n: int
    keys: tuple[str, ...]
    masks: dict[str, np.ndarray]
    anchored: dict[str, np.ndarray]
    id_rows: dict[str, list[np.ndarray]] = field(default_factory=dict)
    id_digests: dict[str, list[np.ndarray]] = field(default_factory=dict)
    names: dict[str, list[pa.Array]] = field(default_factory=dict)
    person_keys: dict[str, list[tuple[pa.Array, np.ndarray]]] = field(default_factory=dict)  # trimmed, present

    @classmethod
    def of(cls, n: int, roles: Iterable[str], keys: Sequence[str]) -> BatchPeople:
        ordered = list(dict.fromkeys([*keys, *roles]))
        return cls(
            n,
            tuple(keys),
            {role: np.zeros(n, dtype=np.uint16) for role in ordered},
            {role: np.zeros(n, dtype=bool) for role in ordered},
        )

    @property
    def needs_identifiers(self) -> bool:
        """Whether strong identifiers matter: some role has no subject key (its people are inferred, and it may
        be a keyed role's person on a row)."""
        return any(role not in self.keys for role in self.masks)

    def add(self, role: str, rows: np.ndarray, masks: np.ndarray, anchors: np.ndarray, *, distinct: bool) -> None:
        """What ``rows`` hold about ``role``'s person; ``distinct``: no row repeats (one value per row)."""
        if distinct:
            self.masks[role][rows] |= masks
            self.anchored[role][rows] |= anchors
        else:  # values of a list: a row may hold several
            np.bitwise_or.at(self.masks[role], rows, masks)
            np.logical_or.at(self.anchored[role], rows, anchors)

    def add_identifiers(self, role: str, rows: np.ndarray, digests: np.ndarray) -> None:
        self.id_rows.setdefault(role, []).append(rows)
        self.id_digests.setdefault(role, []).append(digests)

    def add_names(self, role: str, values: pa.Array) -> None:
        """A name column with one value per row (compared across roles on each row)."""
        self.names.setdefault(role, []).append(values)

    def add_person_key(self, role: str, values: pa.Array) -> None:
        """A pseudonymous person key column of ``role`` with one value per row: anchors the role's person
        wherever it has a value; digested (only where that person has findings) by ``people``."""
        texts = trimmed(values)
        filled = present(texts)
        self.anchored[role] |= filled
        self.person_keys.setdefault(role, []).append((texts, filled))

    # --- the rules ------------------------------------------------------------------------------------------

    def _identifiers(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        rows, digests = self.id_rows.get(role, []), self.id_digests.get(role, [])
        return np.concatenate(rows or [_NO_ROWS]), np.concatenate(digests or [_NO_WORDS])

    def _shared_identifier_rows(self, a: str, b: str) -> np.ndarray:
        """Rows where roles ``a`` and ``b`` hold the same strong identifier."""
        out = np.zeros(self.n, dtype=bool)
        (rows_a, words_a), (rows_b, words_b) = self._identifiers(a), self._identifiers(b)
        if not len(rows_a) or not len(rows_b):
            return out
        record = np.dtype([("row", np.int64), ("high", np.uint64), ("low", np.uint64)])

        def records(rows: np.ndarray, words: np.ndarray) -> np.ndarray:
            packed = np.empty(len(rows), dtype=record)
            packed["row"], packed["high"], packed["low"] = rows, words[:, 0], words[:, 1]
            return packed

        common = np.intersect1d(records(rows_a, words_a), records(rows_b, words_b))
        out[common["row"]] = True
        return out

    def _equal_names(self, a: str, b: str) -> np.ndarray:
        """Rows where a name cell of role ``a`` equals one of role ``b`` (trimmed, exact)."""
        out = np.zeros(self.n, dtype=bool)
        for left in self.names.get(a, []):
            for right in self.names.get(b, []):
                same = pc.equal(trimmed(left), trimmed(right))
                out |= pc.fill_null(same, False).to_numpy(zero_copy_only=False)
        return out

    def _fold(self, source: str, target: str, rows: np.ndarray) -> None:
        """``source``'s person on ``rows`` is ``target``'s: their findings and identifiers move over."""
        self.masks[target][rows] |= self.masks[source][rows]
        self.anchored[target][rows] |= self.anchored[source][rows]
        self.masks[source][rows] = 0
        self.anchored[source][rows] = False
        id_rows, id_words = self._identifiers(source)
        if len(id_rows):
            moving = rows[id_rows]
            self.id_rows[source], self.id_digests[source] = [id_rows[~moving]], [id_words[~moving]]
            if target not in self.keys:
                self.add_identifiers(target, id_rows[moving], id_words[moving])

    def _role_name(self, role: str) -> str:
        """The roles.yaml role of a slot's role (a subject key is named by its column, ``buyer_id`` -> buyer)."""
        return (role_word(role) or role) if role in self.keys else role

    def _fold_same_people(self) -> None:
        """Rule 2: a role without a key that is another role's person on a row is folded into it."""
        keyed = [role for role in self.masks if role in self.keys]
        for source in [role for role in self.masks if role not in self.keys]:
            for target in keyed + [role for role in self.masks if role not in self.keys and role != source]:
                same = np.zeros(self.n, dtype=bool)
                if same_by_name(self._role_name(source), self._role_name(target)):
                    same |= self._equal_names(source, target)
                if target in self.keys:  # inferred roles sharing an identifier are linked by the union anyway
                    same |= self._shared_identifier_rows(source, target)
                same &= self.masks[source] != 0
                if same.any():
                    self._fold(source, target, same)

    def _anchor(self, count_unanchored: bool) -> dict[str, np.ndarray]:
        """Rule 3; returns, per role, the rows whose findings belong to nobody (not counted unless strict)."""
        for key in self.keys:
            self.anchored[key][:] = True  # a subject key column says the row is about someone
        someone = np.zeros(self.n, dtype=bool)
        for anchored in self.anchored.values():
            someone |= anchored
        unanchored: dict[str, np.ndarray] = {}
        for role, masks in self.masks.items():
            loose = (masks != 0) & ~self.anchored[role]
            # the row's unnamed columns are about its named people too, even when they name someone themselves
            # (a narrative holding the reporter's phone is still the patient's case)
            shared = (masks != 0) if role == DEFAULT_ROLE and role not in self.keys else loose
            if not shared.any():
                continue
            for other, anchored in self.anchored.items():
                if other != role:
                    into = shared & anchored
                    self.masks[other][into] |= masks[into]
            nobody = loose & ~someone
            if nobody.any():
                unanchored[role] = nobody
            masks[loose & someone] = 0
            if not count_unanchored:
                masks[nobody] = 0
        return unanchored

    def _person_key_identifiers(self, hasher: SubjectHasher) -> None:
        """Person key digests of the rows whose person has findings (a key alone is nobody's information), and
        name digests of the roles known by name (``known_by_name``: staff such as an attending doctor)."""
        keyed = [(role, *column, PERSON_KEY_KIND) for role, columns in self.person_keys.items() for column in columns]
        named = [
            (role, texts, present(texts), NAME_KIND)
            for role, columns in self.names.items()
            if role not in self.keys and known_by_name(self._role_name(role))
            for texts in map(trimmed, columns)
        ]
        for role, texts, filled, kind in keyed + named:
            rows = np.flatnonzero(filled & (self.masks[role] != 0))
            if len(rows):  # each distinct value of the batch is digested once (a person's rows share it)
                encoded = (texts if len(rows) == len(texts) else texts.take(pa.array(rows))).dictionary_encode()
                digests = hasher.digests_of(f"{kind}:{role}", encoded.dictionary)
                self.add_identifiers(role, rows, digests[encoded.indices.to_numpy(zero_copy_only=False)])

    def _same_keys(self, key_values: Mapping[str, Sequence[object]], hasher: SubjectHasher) -> list[np.ndarray]:
        """Rule 1: for each pair of keys equal on some rows, the later key's person there is the earlier one's;
        returns the pairs of key digests to link, as [first words, second words]."""
        pairs: list[np.ndarray] = []
        texts = {
            key: np.array([None if is_blank(v) else str(v).strip() for v in key_values[key]], dtype=object)
            for key in self.keys
        }
        for i, first in enumerate(self.keys):
            for second in self.keys[i + 1 :]:
                rows = np.flatnonzero((texts[first] == texts[second]) & (texts[first] != None))  # noqa: E711
                if not len(rows):
                    continue
                both = np.zeros(self.n, dtype=bool)
                both[rows] = True
                self._fold(second, first, both)
                values = texts[first][rows].tolist()
                pairs.append(
                    np.stack(
                        [
                            hasher.digests((f"key:{first}", v) for v in values),
                            hasher.digests((f"key:{second}", v) for v in values),
                        ]
                    )
                )
        return pairs

    def people(
        self,
        key_values: Mapping[str, Sequence[object]],
        row_subjects: RowSubjects,
        hasher: SubjectHasher,
        *,
        count_unanchored: bool = False,
    ) -> tuple[ExportSubjects, dict[str, np.ndarray]]:
        """The people of the batch, and per role the rows whose findings belong to nobody (see the rules)."""
        same_keys = self._same_keys(key_values, hasher) if len(self.keys) > 1 else []
        self._fold_same_people()
        unanchored = self._anchor(count_unanchored)
        keyless = [role for role in self.masks if role not in self.keys]
        self._person_key_identifiers(hasher)
        parts = []
        how = identified_by(self.keys)
        if self.keys:
            keyed_masks = {key: self.masks[key] for key in self.keys}
            parts.append(by_key(keyed_masks, key_values, row_subjects, hasher, aliases=same_keys))
        if keyless:
            rows, words = {}, {}
            for role in keyless:
                role_rows, role_words = self._identifiers(role)
                mine = self.masks[role][role_rows] != 0  # identifiers of nobody counted are left out
                rows[role], words[role] = role_rows[mine], role_words[mine]
            parts.append(inferred({role: self.masks[role] for role in keyless}, rows, words, row_subjects, how))
        if len(parts) == 1:
            return parts[0], unanchored
        return merge(parts, how), unanchored
