"""The ledger checked against the audit chain: each year's totals and each reservation's members must be
what the last record that changed them says.

A record that changed the ledger carries ``ledger``: the reservation key, a digest of its members (sorted
16-byte person digests and their masks; the empty set for a release) and the totals it left in each year it
touched (mask -> people). The audit chain is keyed, so someone who edits the ledger tables cannot make the
records agree without the key: setting a year's totals to 0, removing people or members, is caught here.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from export_gate.people.digest import pack_digests
from export_gate.records import database as db

#: Members read per batch when verify recomputes a reservation's digest.
_BATCH = 1 << 16


def _digest_of(batches: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[str, int]:
    """(``members_digest``, number) of members arriving in digest order as (high, low, masks) batches, in bounded
    memory: the digest hashes every high word, then every low word, then every mask, so the low words and masks
    wait in temporary files (keyed digests only, removed at once) until the high words are all in."""
    hasher, people = hashlib.sha256(), 0
    with tempfile.TemporaryFile() as lows, tempfile.TemporaryFile() as masks:
        for high, low, mask in batches:
            hasher.update(np.ascontiguousarray(high, dtype=">u8").tobytes())
            lows.write(np.ascontiguousarray(low, dtype=">u8").tobytes())
            masks.write(np.ascontiguousarray(mask, dtype=">u2").tobytes())
            people += len(high)
        for spool in (lows, masks):
            spool.seek(0)
            while chunk := spool.read(1 << 20):
                hasher.update(chunk)
    return f"sha256:{hasher.hexdigest()}", people


def members_digest(high: np.ndarray, low: np.ndarray, masks: np.ndarray) -> str:
    """A digest of a reservation's members: (digest words, mask) sorted by digest, as big-endian bytes (all high
    words, all low words, all masks). A stable sort on the high word; equal high words, a 2^-64 chance, fall back
    to sorting on both words."""
    order = np.argsort(high, kind="stable")
    ordered = high[order]
    if bool((ordered[1:] == ordered[:-1]).any()):
        order = np.lexsort((low, high))
    return _digest_of([(high[order], low[order], masks[order])])[0]


def stored_members(conn: sa.Connection, reservation_id: int) -> tuple[str, int]:
    """(members_digest, number) of a reservation's members as stored, read in digest order (the primary key's) in
    batches of packed words: a ten-million-person reservation is never in memory at once, as rows or as arrays."""
    member = db.membership
    query = (
        sa.select(member.c.person, member.c.mask)
        .where(member.c.reservation_id == reservation_id)
        .order_by(member.c.person)
    )

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for rows in conn.execute(query, execution_options={"yield_per": _BATCH}).partitions(_BATCH):
            people, masks = zip(*rows, strict=True)
            words = pack_digests(bytes(person) for person in people)
            yield words[:, 0], words[:, 1], np.array(masks, dtype=np.uint16)

    return _digest_of(batches())


def ledger_state(ledger: str, reservation: str, members: str, people: int, years: dict) -> dict:
    """The ``ledger`` field of an audit record: what this change left in the ledger of ``ledger`` (the handler
    or entity whose year-to-date it is): the reservation's ``members_digest`` and number of ``people``, and the
    totals of each year it touched (years: {year: Counter mask -> people})."""
    return {
        "handler_id": ledger,
        "reservation": reservation,
        "members": members,
        "people": int(people),
        "years": [{"year": int(year), "totals": _totals_json(totals)} for year, totals in sorted(years.items())],
    }


def _totals_json(totals: Mapping[int, int]) -> dict[str, int]:
    return {str(mask): int(n) for mask, n in sorted(totals.items()) if mask and n}


@dataclass
class Claims:
    """What the verified records say the ledger holds: the last claim per (handler, year) and per reservation,
    each with the id of the record that made it."""

    totals: dict[tuple[str, int], tuple[int, dict[str, int]]] = field(default_factory=dict)
    members: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, record: dict) -> None:
        state = record.get("ledger")
        if not isinstance(state, dict):
            return
        for year in state.get("years") or ():
            self.totals[str(state.get("handler_id")), int(year["year"])] = (record["id"], year["totals"])
        if state.get("reservation") is not None:
            self.members[state["reservation"]] = (record["id"], state["members"])


def cross_check(engine: Engine, claims: Claims) -> tuple[tuple[int | None, str] | None, tuple[str, ...]]:
    """((record id, why) of the first disagreement, or None; the lines saying what was checked)."""
    years = unclaimed_years = reservations = unclaimed = 0
    with db.read_connection(engine) as conn:
        scopes = conn.execute(sa.select(db.scope.c.id, db.scope.c.handler_id, db.scope.c.year)).all()
        for scope_id, handler_id, year in scopes:
            years += 1
            where = f"the ledger of handler {handler_id!r}, year {year}"
            stored = _totals_json(_stored_totals(conn, scope_id))
            if stored != _totals_json(_people_totals(conn, scope_id)):
                return (
                    None,
                    f"{where}: its totals (ledger_mask_total) are not the sum of its people "
                    "(ledger_person): one of them was altered",
                ), ()
            claim = claims.totals.get((handler_id, year))
            if claim is None:
                unclaimed_years += 1
                continue
            if stored != claim[1]:
                return (
                    claim[0],
                    f"{where}: its year-to-date totals are not those audit record {claim[0]} says "
                    "the last change left (the ledger was altered outside the gate)",
                ), ()
        rows = conn.execute(sa.select(db.reservation.c.id, db.reservation.c.key))
        for reservation_id, key in rows.all():
            claim = claims.members.get(key)
            if claim is None:
                unclaimed += 1
                continue
            reservations += 1
            if stored_members(conn, reservation_id)[0] != claim[1]:
                return (
                    claim[0],
                    f"reservation {key!r}: its members are not those audit record {claim[0]} "
                    "chained (people were added to or removed from the ledger outside the gate)",
                ), ()
    lines = [
        f"ledger: {years - unclaimed_years} of {years} handler-year(s) hold the totals their last audit record "
        f"left, and their totals add up to their people; {reservations} reservation(s) hold the members their "
        "record chained",
    ]
    if unclaimed_years or unclaimed:
        lines.append(
            f"NOT CROSS-CHECKED: {unclaimed_years} handler-year(s) and {unclaimed} reservation(s) no audit record "
            "carries the state of (changed before schema revision 0003, or outside the gate)"
        )
    return None, tuple(lines)


def _stored_totals(conn: sa.Connection, scope_id: int) -> Counter[int]:
    query = sa.select(db.mask_total.c.mask, db.mask_total.c.subjects).where(db.mask_total.c.scope_id == scope_id)
    return Counter(dict(conn.execute(query).all()))


def _people_totals(conn: sa.Connection, scope_id: int) -> Counter[int]:
    person = db.person
    query = (
        sa.select(person.c.mask, sa.func.count())
        .where(person.c.scope_id == scope_id, person.c.mask != 0)
        .group_by(person.c.mask)
    )
    return Counter(dict(conn.execute(query).all()))
