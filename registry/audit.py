"""The hash-chained audit log.

Each event carries the hash of the one before it, so removing or editing any event breaks every
link after it. Events are written inside the caller's transaction, so a change and its record
commit or roll back together.

The hash is an HMAC under a key that is not in the database (COLLATERAL_AUDIT_KEY or the data
dir's .audit_key), so write access to the database is not enough to rewrite events and recompute
the chain. Removing the newest events leaves a shorter chain that is still whole: a checkpoint
(`seq:hash` of the head, kept elsewhere) is what shows it, verified with `since`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from registry import clock
from registry.config import get_settings
from registry.db import engine, insert_rows, is_postgres
from registry.schemas.common import Page, Paging
from registry.schemas.misc import AuditEventRead
from registry.tables import AuditEvent

GENESIS = "0" * 64
# hash_version of an event: how its hash was made. 1: plain SHA-256, events written before keyed hashes
# (kept as they were: re-hashing them would launder any tampering they already hold); 2: HMAC-SHA256.
UNKEYED, KEYED = 1, 2
# "audi": one advisory lock orders every writer of the chain on PostgreSQL; audit_chain_head() (the migration of
# 2026-12-02T18:00) takes it by this number.
CHAIN_LOCK = 0x61756469


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


def _payload(*fields: Any) -> bytes:
    return _PAYLOAD(list(fields)).encode()


def _digest(version: int, payload: bytes) -> str:
    if version == UNKEYED:
        return hashlib.sha256(payload).hexdigest()
    return hmac.digest(get_settings().audit_key.encode(), payload, "sha256").hex()


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
    version: int = KEYED,
) -> str:
    return _digest(version, _payload(seq, _time_text(at), actor, entity, entity_ref, action, before, after, prev_hash))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One event to append: what changed (entity and its ref), how (action), and its state before and after; its
    own actor when a call records several people's acts (a batch of bids)."""

    entity: str
    entity_ref: str
    action: str
    before: Any = None
    after: Any = None
    actor: str | None = None


_COLUMNS = (
    "seq",
    "at",
    "actor",
    "entity",
    "entity_ref",
    "action",
    "before",
    "after",
    "prev_hash",
    "hash",
    "hash_version",
)


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
    transaction = engine().current_transaction.get()
    seq, prev_hash = await _head(transaction)
    # Microseconds are the finest both engines keep, so the hash is recomputable from what is stored.
    at = clock.now().astimezone(UTC)
    at_text = _time_text(at)
    key = get_settings().audit_key.encode()
    rows = []
    for event in events:
        seq += 1
        before, after = canonical(event.before), canonical(event.after)
        by = event.actor or actor
        payload = _payload(seq, at_text, by, event.entity, event.entity_ref, event.action, before, after, prev_hash)
        digest = hmac.digest(key, payload, "sha256").hex()
        rows.append(
            (seq, at, by, event.entity, event.entity_ref, event.action, before, after, prev_hash, digest, KEYED)
        )
        prev_hash = digest
    await insert_rows(AuditEvent, _COLUMNS, rows)
    if transaction is not None:
        _LAST_HEAD[:] = [(transaction, seq, prev_hash)]


# The head the last recording transaction left. While a transaction holds the chain's lock nobody else appends, so
# when it records again the head is the one it left: a transaction recording many events one by one (the demo, a
# bulk of registration moves) takes the lock and reads the head once. The transaction object itself is kept, so a
# later transaction can never be mistaken for it; a rolled-back one is simply never current again.
_LAST_HEAD: list[tuple[Any, int, str]] = []


def head_held(seq: int | None, digest: str | None) -> None:
    """The current transaction took the chain's lock and read its head (`audit_chain_head()`, NULLs for an empty
    chain) in a statement of its own making: its next events link to that head without reading it again."""
    transaction = engine().current_transaction.get()
    assert transaction is not None, "the chain's head is held only inside a transaction"
    _LAST_HEAD[:] = [(transaction, 0, GENESIS) if seq is None else (transaction, seq, str(digest))]


async def _head(transaction: Any) -> tuple[int, str]:
    if transaction is not None and _LAST_HEAD and _LAST_HEAD[0][0] is transaction:
        return _LAST_HEAD[0][1], _LAST_HEAD[0][2]
    if is_postgres():
        # The lock and the read in one round trip (the function reads after the lock is held).
        rows = await AuditEvent.raw("SELECT seq, hash FROM audit_chain_head()")
        seq, digest = rows[0]["seq"], rows[0]["hash"]
        return (0, GENESIS) if seq is None else (int(seq), digest)
    # SQLite: the immediate write transaction already orders the chain's writers.
    last = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return (last["seq"], last["hash"]) if last else (0, GENESIS)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain's head at some moment, `seq:hash`: printed by `collateral audit checkpoint` to be kept
    outside the database, and given back to `verify` to prove the chain still reaches it unchanged."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq, _, digest = text.strip().partition(":")
        if not (seq.isascii() and seq.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
            raise ValueError(f"a checkpoint is SEQ:HASH as `collateral audit checkpoint` prints it, not {text!r}")
        return cls(int(seq), digest)


async def checkpoint() -> Checkpoint:
    last = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return Checkpoint(last["seq"], last["hash"]) if last else Checkpoint(0, GENESIS)


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    first_broken_seq: int | None = None
    reason: str | None = None
    unkeyed_events: int = 0  # events from before keyed hashes, checked as plain SHA-256


def _broken_link(row: dict[str, Any], prev_hash: str, keyed_seen: bool) -> str | None:
    """Why this event breaks the chain, or None."""
    version = row["hash_version"]
    if version not in (UNKEYED, KEYED):
        return f"unknown hash_version {version}"
    if version == UNKEYED and keyed_seen:
        return "an unkeyed event after keyed ones: the chain was rewritten without the audit key"
    if row["prev_hash"] != prev_hash:
        return "prev_hash does not match the previous event's hash"
    digest = event_hash(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        entity=row["entity"],
        entity_ref=row["entity_ref"],
        action=row["action"],
        before=row["before"],
        after=row["after"],
        prev_hash=row["prev_hash"],
        version=version,
    )
    if not hmac.compare_digest(digest, row["hash"]):
        return "event content does not match its hash (or the audit key is not the one it was written with)"
    return None


async def verify(batch: int = 5000, since: Checkpoint | None = None) -> ChainReport:
    """Check every link from the first event. With `since`, the chain must also still reach that checkpoint's
    event with that hash: newest events removed, or the chain rebuilt, fail there."""
    prev_hash, expected_seq, checked, unkeyed = GENESIS, 1, 0, 0
    while True:
        rows = await AuditEvent.select().where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
        if not rows:
            break
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing", unkeyed)
            reason = _broken_link(row, prev_hash, keyed_seen=checked > unkeyed)
            if reason:
                return ChainReport(False, checked, seq, reason, unkeyed)
            if since is not None and seq == since.seq and row["hash"] != since.hash:
                return ChainReport(
                    False,
                    checked,
                    seq,
                    f"event {seq}'s hash is no longer the checkpoint's ({since}): the chain was rewritten",
                    unkeyed,
                )
            unkeyed += row["hash_version"] == UNKEYED
            prev_hash, expected_seq, checked = row["hash"], seq + 1, checked + 1
    if since is not None and since.seq > checked:
        return ChainReport(
            False,
            checked,
            checked + 1,
            f"the chain ends at event {checked} but the checkpoint ({since}) names event {since.seq}: "
            "the newest events were removed",
            unkeyed,
        )
    if since is not None and since.seq == 0 and since.hash != GENESIS:
        return ChainReport(False, checked, None, f"checkpoint {since} names no event", unkeyed)
    return ChainReport(ok=True, events=checked, unkeyed_events=unkeyed)


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
