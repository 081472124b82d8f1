"""The hash-chained audit log.

Each event carries the hash of the one before it, so removing or editing any event breaks every
link after it. Events are written inside the caller's transaction, so a change and its record
commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry import clock
from registry.db import lock_named
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead
from registry.tables import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK = 0x61756469  # "audi": one advisory lock orders every writer of the chain on PostgreSQL


def canonical(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


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
    payload = json.dumps(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            actor,
            entity,
            entity_ref,
            action,
            before,
            after,
            prev_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


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
    await lock_named(_CHAIN_LOCK)
    last = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    seq = (last["seq"] + 1) if last else 1
    prev_hash = last["hash"] if last else GENESIS
    # Microseconds are the finest both engines keep, so the hash is recomputable from what is stored.
    at = clock.now().astimezone(UTC)
    before_text, after_text = canonical(before), canonical(after)
    digest = event_hash(
        seq=seq,
        at=at,
        actor=actor,
        entity=entity,
        entity_ref=entity_ref,
        action=action,
        before=before_text,
        after=after_text,
        prev_hash=prev_hash,
    )
    await AuditEvent.insert(
        AuditEvent(
            seq=seq,
            at=at,
            actor=actor,
            entity=entity,
            entity_ref=entity_ref,
            action=action,
            before=before_text,
            after=after_text,
            prev_hash=prev_hash,
            hash=digest,
        )
    )


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
    paging: Paging, *, entity: str | None = None, entity_ref: str | None = None, actor: str | None = None
) -> Page[AuditEventRead]:
    """Newest first, filtered by entity, ref or actor."""
    where = []
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
