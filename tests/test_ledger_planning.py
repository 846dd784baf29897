"""PostgreSQL plans the ledger's joins from statistics. A handler/year written since the last ANALYZE looked like
one row to the planner, which then chose nested loops that rescanned thousands of rows per row (issue 16: a
what-if on 32,493 people took 77 s under the handler's lock). The ledger must see to its own statistics."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from export_gate.model import mask_of
from export_gate.people.union import build
from export_gate.records.ledger import Store

pytest_plugins = ["pg"]
KEY = b"test-key-0123456789abcdef"
PERSONAL = mask_of(())


def _export(words: np.ndarray, aliases: np.ndarray):
    masks = np.full(len(words) + len(aliases), PERSONAL, dtype=np.uint16)
    edges = np.column_stack([np.arange(len(aliases)) + len(words), np.arange(len(aliases))]).astype(np.int64)
    return build(np.concatenate([words, aliases]), masks, edges, identified_by="strong_identifiers")


def _expected_rows(store: Store, where: str) -> float:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {where}").scalar_one()[0]["Plan"]["Plan Rows"]


@pytest.mark.postgres
@pytest.mark.parametrize("step", ["what-if", "release"])
def test_a_scope_written_since_the_last_analyze_is_planned_with_its_real_size(postgres_url: str, step: str) -> None:
    store = Store(postgres_url, secret_key=KEY)
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**64, size=(20_000, 2), dtype=np.uint64)
    with store.transaction("established", 2026) as tx:
        tx.reserve("fill", _export(words[:8_000], words[:0]))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")  # what autovacuum leaves: statistics from before the new handler wrote
        for table in ("ledger_person", "ledger_alias", "ledger_membership"):  # and no autovacuum during the test
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        conn.commit()
    with store.transaction("new-handler", 2026) as tx:
        tx.reserve("first", _export(words[8_000:14_000], words[14_000:16_000]))
    with store.engine.connect() as conn:
        scope_id = conn.execute(sa.text("SELECT id FROM ledger_scope WHERE handler_id = 'new-handler'")).scalar_one()
        first = conn.execute(sa.text("SELECT id FROM ledger_reservation WHERE key = 'first'")).scalar_one()
    people, members = f"ledger_person WHERE scope_id = {scope_id}", f"ledger_membership WHERE reservation_id = {first}"
    assert _expected_rows(store, people) < 100, "the setup must leave stale statistics"
    assert _expected_rows(store, members) < 100

    if step == "what-if":
        with store.transaction("new-handler", 2026) as tx:
            before, _ = tx.preview(_export(words[10_000:18_000], words[18_000:19_000]), reservation="second")
        assert before.personal == 6_000
    else:
        store.release("first")
        assert store.counts("new-handler", 2026).personal == 0

    assert _expected_rows(store, people) >= 3_000
    assert _expected_rows(store, f"ledger_alias WHERE scope_id = {scope_id}") >= 1_000
    assert _expected_rows(store, members) >= 3_000


@pytest.mark.postgres
def test_a_retried_reservation_written_since_the_last_analyze_is_planned_with_its_members(postgres_url: str) -> None:
    """The scope's statistics are fine (its people were analysed), but the reservation being retried was
    written since: a retry joins the year against its earlier members, which the planner took for one row."""
    store = Store(postgres_url, secret_key=KEY)
    words = np.random.default_rng(8).integers(0, 2**64, size=(20_000, 2), dtype=np.uint64)
    with store.transaction("handler", 2026) as tx:
        tx.reserve("fill", _export(words[:10_000], words[:0]))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        for table in ("ledger_person", "ledger_alias", "ledger_membership"):
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        conn.commit()
    export = _export(words[2_000:9_000], words[10_000:11_000])  # people counted already: the scope barely grows
    with store.transaction("handler", 2026) as tx:
        tx.reserve("export", export)
    with store.engine.connect() as conn:
        export_id = conn.execute(sa.text("SELECT id FROM ledger_reservation WHERE key = 'export'")).scalar_one()
    members = f"ledger_membership WHERE reservation_id = {export_id}"
    assert _expected_rows(store, members) < 100, "the setup must leave the members' statistics stale"

    with store.transaction("handler", 2026) as tx:
        before, after = tx.preview(export, reservation="export")
    assert (before.personal, after.personal) == (10_000, 10_000)
    assert _expected_rows(store, members) >= 3_500
