"""Keyed audit hashes and checkpoints (issue 13, defect 6): someone with write access to the database, but
not the audit key, can neither rewrite the chain and recompute its hashes nor cut off its newest events
unnoticed once a checkpoint has been kept elsewhere."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from registry import audit, clock
from registry.config import get_settings
from registry.db import write_transaction
from registry.roles import Role
from registry.tables import AuditEvent
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="1000.00")
    await b.asset("A1")
    await b.lien("M1")
    return b  # five events


async def _rehash_without_key(
    from_seq: int, *, version: int, tamper: dict[str, Any] | None = None, to_seq: int | None = None
) -> None:
    """What an attacker with database access but no key can do: change events and recompute every hash
    from `from_seq` (to `to_seq`) with plain SHA-256, so that each link matches again."""
    rows = await AuditEvent.select().order_by(AuditEvent.seq)
    prev_hash = audit.GENESIS
    for row in rows:
        if from_seq <= row["seq"] <= (to_seq or row["seq"]):
            row.update(tamper or {})
            row["prev_hash"] = prev_hash
            row["hash"] = audit.event_hash(
                seq=row["seq"],
                at=row["at"],
                actor=row["actor"],
                entity=row["entity"],
                entity_ref=row["entity_ref"],
                action=row["action"],
                before=row["before"],
                after=row["after"],
                prev_hash=prev_hash,
                version=audit.UNKEYED,
            )
            await AuditEvent.update(
                {
                    AuditEvent.actor: row["actor"],
                    AuditEvent.prev_hash: row["prev_hash"],
                    AuditEvent.hash: row["hash"],
                    AuditEvent.hash_version: version,
                }
            ).where(AuditEvent.seq == row["seq"])
        prev_hash = row["hash"]


async def test_new_events_are_keyed_and_verify(client, as_role, book: Book) -> None:
    versions = await AuditEvent.select(AuditEvent.hash_version).order_by(AuditEvent.seq)
    assert [v["hash_version"] for v in versions] == [audit.KEYED] * 5
    report = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    assert report == {"ok": True, "events": 5, "first_broken_seq": None, "reason": None, "unkeyed_events": 0}


async def test_truncation_after_a_checkpoint_is_detected(client, as_role, book: Book) -> None:
    auditor = as_role(Role.AUDITOR)
    head = (await client.get("/api/audit/checkpoint", headers=auditor)).json()
    assert head["seq"] == 5
    assert head["checkpoint"] == f"5:{head['hash']}"
    assert (await client.get("/api/audit/verify", params={"since": head["checkpoint"]}, headers=auditor)).json()["ok"]

    await AuditEvent.delete().where(AuditEvent.seq >= 4)

    # What is left is a whole chain: only the checkpoint shows what is gone.
    assert (await audit.verify()).ok
    report = await audit.verify(since=audit.Checkpoint.parse(head["checkpoint"]))
    assert not report.ok
    assert report.first_broken_seq == 4
    assert "newest events were removed" in (report.reason or "")
    api = (await client.get("/api/audit/verify", params={"since": head["checkpoint"]}, headers=auditor)).json()
    assert api["ok"] is False
    assert api["first_broken_seq"] == 4


async def test_an_earlier_checkpoint_still_verifies_as_the_chain_grows(client, as_role, book: Book) -> None:
    early = await audit.checkpoint()
    await book.party("P2")
    assert (await audit.verify(since=early)).ok
    assert (await audit.checkpoint()).seq == early.seq + 1


async def test_rewrite_with_recomputed_unkeyed_hashes_is_detected(client, as_role, book: Book) -> None:
    await _rehash_without_key(3, version=audit.KEYED, tamper={"actor": "mallory"})
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "does not match its hash" in (report.reason or "")


async def test_rewrite_marked_as_old_unkeyed_events_is_detected(client, as_role, book: Book) -> None:
    await _rehash_without_key(3, version=audit.UNKEYED, tamper={"actor": "mallory"})
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert "unkeyed event after keyed ones" in (report.reason or "")


async def test_whole_chain_rewritten_unkeyed_fails_against_a_checkpoint(client, as_role, book: Book) -> None:
    kept = await audit.checkpoint()
    await _rehash_without_key(1, version=audit.UNKEYED, tamper={"actor": "mallory"})
    # A chain with no keyed event left looks like one from before keyed hashes; the checkpoint, a keyed hash,
    # is what the rewrite cannot reproduce.
    assert (await audit.verify()).unkeyed_events == 5
    report = await audit.verify(since=kept)
    assert not report.ok
    assert report.first_broken_seq == 5
    assert "no longer the checkpoint's" in (report.reason or "")


async def test_a_chain_from_before_keyed_hashes_verifies_and_continues_keyed(client, as_role, book: Book) -> None:
    # The migration's case: events written with plain SHA-256 (version 1), then new events keyed.
    await _rehash_without_key(1, version=audit.UNKEYED)
    await book.party("P2")
    report = await audit.verify()
    assert report.ok, report.reason
    assert (report.events, report.unkeyed_events) == (6, 5)
    # The first keyed event's HMAC covers the last unkeyed hash, so the old events cannot be changed either.
    await _rehash_without_key(2, version=audit.UNKEYED, tamper={"actor": "mallory"}, to_seq=5)
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 6


async def test_the_hash_needs_the_key(client, as_role, book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    other = dataclasses.replace(get_settings(), audit_key="another-key-of-at-least-32-characters")
    monkeypatch.setattr(audit, "get_settings", lambda: other)
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 1


async def test_the_keyed_hash_is_the_same_on_every_engine(client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed event under a fixed key has this hash whichever engine stored it: the hash is computed from the
    stored values, so it must not depend on how an engine returns times or text."""
    fixed = dataclasses.replace(get_settings(), audit_key="k" * 32)
    monkeypatch.setattr(audit, "get_settings", lambda: fixed)
    clock.set_clock(lambda: datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
    async with write_transaction():
        await audit.record("alice", "party", "P1", "create", after={"ref": "P1", "name": "甲公司", "n": 1})
    row = await AuditEvent.select().first()
    assert row is not None
    assert row["hash"] == "cd4894b80008ef3b2bed6c558cefdf9edacf05620656ae2fcf07edf87510b3be"
    assert (await audit.verify()).ok


async def test_a_malformed_checkpoint_is_refused(client, as_role) -> None:
    r = await client.get("/api/audit/verify", params={"since": "5:xyz"}, headers=as_role(Role.AUDITOR))
    assert r.status_code == 422
    assert "since" in r.text
    with pytest.raises(ValueError, match="SEQ:HASH"):
        audit.Checkpoint.parse("five")
