"""The hash-chained audit log.

Each event carries the hash of the one before it, so removing or editing any event breaks every
link after it. Events are written inside the caller's transaction, so a change and its record
commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from registry import clock
from registry.db import insert_rows, lock_named
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead
from registry.tables import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK = 0x61756469  # "audi": one advisory lock orders every writer of the chain on PostgreSQL


def _encoder(**options: Any) -> Callable[[Any], str]:
    """json.dumps with these options, the C encoder built once.

    json.dumps (and JSONEncoder.encode) build the C encoder anew on every call, which is most of the cost
    of encoding a small event; a bulk write encodes tens of thousands. The output is the same text, so
    hashes and stored events do not change. Audit values are never circular, so no check for it is made.
    """
    slow = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, **options)
    if c_make_encoder is None:
        return slow.encode
    fast = c_make_encoder(
        None, slow.default, encode_basestring, None, ":", ",", slow.sort_keys, slow.skipkeys, slow.allow_nan
    )
    return lambda value: "".join(fast(value, 0))


_CANONICAL = _encoder(sort_keys=True, default=str)
_PAYLOAD = _encoder()


def canonical(value: Any) -> str | None:
    return None if value is None else _CANONICAL(value)


def _digest(*fields: Any) -> str:
    return hashlib.sha256(_PAYLOAD(list(fields)).encode()).hexdigest()


def _time_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    entity: str,
    entity_ref: str,
    action: str,
    before: str | None,
    after: str | None,
    prev_hash: str,
) -> str:
    return _digest(seq, _time_text(at), actor, entity, entity_ref, action, before, after, prev_hash)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event to append: what changed (entity and its ref), how (action), and its state before and after."""

    entity: str
    entity_ref: str
    action: str
    before: Any = None
    after: Any = None


_COLUMNS = ("seq", "at", "actor", "entity", "entity_ref", "action", "before", "after", "prev_hash", "hash")


async def record(
    actor: str,
    entity: str,
    entity_ref: str,
    action: str,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one event. Must be called inside the write transaction of the change it records."""
    await record_many(actor, [AuditEntry(entity, entity_ref, action, before, after)])


async def record_many(actor: str, events: Sequence[AuditEntry]) -> None:
    """Append events in the order given, each linked to the one before, in one insert.

    Must be called inside the write transaction of the changes they record. The chain's writers are
    ordered by one lock, taken once here, and the head is read once: the events of one call get
    consecutive sequence numbers and share one time.
    """
    if not events:
        return
    await lock_named(_CHAIN_LOCK)
    last = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    seq = last["seq"] if last else 0
    prev_hash = last["hash"] if last else GENESIS
    # Microseconds are the finest both engines keep, so the hash is recomputable from what is stored.
    at = clock.now().astimezone(UTC)
    at_text = _time_text(at)
    rows = []
    for event in events:
        seq += 1
        before, after = canonical(event.before), canonical(event.after)
        digest = _digest(seq, at_text, actor, event.entity, event.entity_ref, event.action, before, after, prev_hash)
        rows.append((seq, at, actor, event.entity, event.entity_ref, event.action, before, after, prev_hash, digest))
        prev_hash = digest
    await insert_rows(AuditEvent, _COLUMNS, rows)


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None


async def verify(batch: int = 5000) -> ChainReport:
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = await AuditEvent.select().where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
        if not rows:
            return ChainReport(ok=True, events=checked)
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
            if row["prev_hash"] != prev_hash:
                return ChainReport(False, checked, seq, "prev_hash does not match the previous event's hash")
            digest = event_hash(
                seq=seq,
                at=row["at"],
                actor=row["actor"],
                entity=row["entity"],
                entity_ref=row["entity_ref"],
                action=row["action"],
                before=row["before"],
                after=row["after"],
                prev_hash=row["prev_hash"],
            )
            if digest != row["hash"]:
                return ChainReport(False, checked, seq, "event content does not match its hash")
            prev_hash, expected_seq, checked = row["hash"], seq + 1, checked + 1


async def list_events(
    paging: Paging,
    *,
    entity: str | None = None,
    entity_ref: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEventRead]:
    """Newest first, filtered by entity, ref or actor, and by time: `since` inclusive, `until` exclusive."""
    where = []
    if since is not None:
        where.append(AuditEvent.at >= since)
    if until is not None:
        where.append(AuditEvent.at < until)
    if entity:
        where.append(AuditEvent.entity == entity)
    if entity_ref:
        where.append(AuditEvent.entity_ref == entity_ref)
    if actor:
        where.append(AuditEvent.actor == actor)
    total = await AuditEvent.count().where(*where)
    rows = (
        await AuditEvent.select()
        .where(*where)
        .order_by(AuditEvent.seq, ascending=False)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    items = [
        AuditEventRead(
            seq=r["seq"],
            at=r["at"],
            actor=r["actor"],
            entity=r["entity"],
            entity_ref=r["entity_ref"],
            action=r["action"],
            before=json.loads(r["before"]) if r["before"] else None,
            after=json.loads(r["after"]) if r["after"] else None,
            hash=r["hash"],
        )
        for r in rows
    ]
    return Page(items, total, paging.page, paging.page_size)
