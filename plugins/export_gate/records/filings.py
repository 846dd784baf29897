"""The filings register and the legal entities behind handler ids, in the ledger database.

A filing (a filed standard contract, a certification, a security assessment approval) belongs to the legal entity
whose ledger it covers, names its overseas recipients and its scope (data categories, ``sensitive``, or
``dataset:<URI glob>``), and is active until it is expired by hand or runs past its validity. Adding and expiring a
filing writes an audit record in the same transaction, so the hash chain shows when the paperwork changed.

A handler id bound to a unified social credit code stays bound: a later run that gives the id without the code
still counts into the entity's ledger, and the id cannot be moved to another entity. This is what stops an entity
from splitting its exports across ids to stay under a threshold.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from export_gate.errors import ConfigError, LedgerError
from export_gate.records import database as db
from export_gate.records.audit import AuditLog
from export_gate.rules.handler import FILING_KINDS, Filing, Handler, check_uscc

ACTIVE, EXPIRED = "active", "expired"

_metadata = sa.MetaData()
#: Frozen with migration 0004.
filing = sa.Table(
    "filing",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("issued", sa.String(10), nullable=False),
    sa.Column("valid_until", sa.String(10)),
    sa.Column("recipients", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("expired_on", sa.String(10)),
    sa.Column("created_at", sa.String(32), nullable=False),
)
handler_entity = sa.Table(
    "handler_entity",
    _metadata,
    sa.Column("handler_id", sa.String(200), primary_key=True),
    sa.Column("uscc", sa.String(18), nullable=False),
    sa.Column("bound_at", sa.String(32), nullable=False),
)


def entity_key(handler_id: str | None, uscc: str | None) -> str:
    """The ledger a handler id or an entity code names (the same key ``Handler.ledger_key`` gives)."""
    if uscc:
        return f"uscc:{check_uscc(uscc, '--uscc')}"
    if not handler_id:
        raise ConfigError("name the data handler: --handler-id ID or --uscc CODE")
    return handler_id


def _bound(conn: Connection, handler_id: str) -> str | None:
    return conn.execute(sa.select(handler_entity.c.uscc).where(handler_entity.c.handler_id == handler_id)).scalar()


def resolve_entity(engine: Engine, handler: Handler) -> Handler:
    """The handler with its entity: binds a handler id given with a code (the first time), fills the code in for an
    id bound earlier, and refuses an id bound to another entity's code."""
    bound = bound_code(engine, handler.id)  # read first: only the first run of an id with a code writes
    if handler.uscc is None:
        return handler if bound is None else replace(handler, uscc=bound)
    if bound == handler.uscc:
        return handler
    with db.write_transaction(engine, locks=(f"entity:{handler.id}",)) as conn:
        bound = _bound(conn, handler.id)
        if bound is None:
            row = {"handler_id": handler.id, "uscc": handler.uscc, "bound_at": db.utc_now()}
            conn.execute(sa.insert(handler_entity).values(row))
        elif bound != handler.uscc:
            raise LedgerError(
                f"handler id {handler.id!r} belongs to the entity with unified social credit code {bound}, not "
                f"{handler.uscc}; one handler id cannot count into two entities' ledgers (use another handler id)"
            )
    return handler


def bound_code(engine: Engine, handler_id: str) -> str | None:
    """The unified social credit code ``handler_id`` is bound to, if any."""
    with db.read_connection(engine) as conn:
        return _bound(conn, handler_id)


def _as_filing(row: sa.Row) -> Filing:
    """A register row as the policy reads it: an expired filing's last valid day is the day before it expired."""
    until = [date.fromisoformat(row.valid_until)] if row.valid_until else []
    if row.expired_on:
        until.append(date.fromisoformat(row.expired_on) - timedelta(days=1))
    return Filing(
        kind=row.kind,
        reference=row.reference,
        date=date.fromisoformat(row.issued),
        valid_until=min(until) if until else None,
        recipients=tuple(json.loads(row.recipients)),
        scope=tuple(json.loads(row.scope)),
        origin="register",
    )


def _as_dict(row: sa.Row) -> dict:
    return {
        "entity": row.entity,
        **_as_filing(row).to_dict(),
        "status": row.status,
        "expired_on": row.expired_on,
        "created_at": row.created_at,
    }


def registered_filings(engine: Engine, entity: str) -> tuple[Filing, ...]:
    """Every filing on the entity's register. Validity is the policy's to judge on the export's date (an approval
    past its 3 years, or a filing expired before that date, is refused there with a warning that says so), so an
    export dated before a filing was expired is still judged with it."""
    with db.read_connection(engine) as conn:
        rows = conn.execute(sa.select(filing).where(filing.c.entity == entity).order_by(filing.c.id))
        return tuple(_as_filing(row) for row in rows)


def list_filings(engine: Engine, entity: str | None = None, *, include_expired: bool = False) -> list[dict]:
    query = sa.select(filing).order_by(filing.c.entity, filing.c.id)
    if entity is not None:
        query = query.where(filing.c.entity == entity)
    if not include_expired:
        query = query.where(filing.c.status == ACTIVE)
    with db.read_connection(engine) as conn:
        return [_as_dict(row) for row in conn.execute(query)]


def _one(conn: Connection, entity: str, reference: str) -> sa.Row:
    rows = conn.execute(sa.select(filing).where(filing.c.entity == entity, filing.c.reference == reference)).all()
    if not rows:
        raise ConfigError(f"no filing {reference!r} on the register of {entity}; see `export-gate filings list`")
    if len(rows) > 1:
        kinds = ", ".join(row.kind for row in rows)
        raise ConfigError(f"{entity} has several filings {reference!r} ({kinds}); give --kind")
    return rows[0]


def show_filing(engine: Engine, entity: str, reference: str) -> dict:
    with db.read_connection(engine) as conn:
        return _as_dict(_one(conn, entity, reference))


def _audit(engine: Engine, conn: Connection, entity: str, change: str, row: dict) -> int:
    record = {"event": "filing", "handler_id": entity, "action": None, "change": change, "filing": row}
    return AuditLog(engine).append(conn, record)


def add_filing(engine: Engine, entity: str, item: Filing) -> int:
    """Put ``item`` on ``entity``'s register and write the audit record; returns the audit record id. A filing
    must say when it was issued, whom it is for and what it covers, or it could never be matched to an export."""
    if item.kind not in FILING_KINDS:
        raise ConfigError(f"filing kind {item.kind!r} is not one of {', '.join(FILING_KINDS)}")
    if item.date is None:
        raise ConfigError(f"filing {item.reference!r}: give the date it was filed, approved or certified (--date)")
    if not item.recipients or not item.scope:
        raise ConfigError(
            f"filing {item.reference!r}: name its overseas recipient(s) (--recipient) and its scope (--scope: data "
            "categories, 'sensitive', or dataset:<URI glob>); a filing covers only the exports they describe"
        )
    values = {
        "entity": entity,
        "kind": item.kind,
        "reference": item.reference,
        "issued": item.date.isoformat(),
        "valid_until": item.valid_until.isoformat() if item.valid_until else None,
        "recipients": json.dumps(list(item.recipients), ensure_ascii=False),
        "scope": json.dumps(list(item.scope), ensure_ascii=False),
        "status": ACTIVE,
        "expired_on": None,
        "created_at": db.utc_now(),
    }
    with db.write_transaction(engine, locks=(f"filings:{entity}",)) as conn:
        exists = conn.execute(
            sa.select(filing.c.id).where(
                filing.c.entity == entity, filing.c.kind == item.kind, filing.c.reference == item.reference
            )
        ).first()
        if exists is not None:
            raise ConfigError(f"{entity} already has {item.kind} {item.reference!r} on the register")
        conn.execute(sa.insert(filing).values(values))
        return _audit(engine, conn, entity, "add", {**item.to_dict(), "origin": "register"})


def expire_filing(engine: Engine, entity: str, reference: str, on: date) -> int:
    """Mark a filing expired (withdrawn, revoked, replaced) from ``on``; returns the audit record id."""
    with db.write_transaction(engine, locks=(f"filings:{entity}",)) as conn:
        row = _one(conn, entity, reference)
        if row.status == EXPIRED:
            raise ConfigError(f"filing {reference!r} of {entity} is already expired (on {row.expired_on})")
        conn.execute(sa.update(filing).where(filing.c.id == row.id).values(status=EXPIRED, expired_on=on.isoformat()))
        changed = {**_as_dict(row), "status": EXPIRED, "expired_on": on.isoformat()}
        return _audit(engine, conn, entity, "expire", changed)
