"""PostgreSQL: the bids of a round that may take the lead, taken at this worker's gate in batches.

A hot round's bids that are judged to lead all race for the round; one at a time through the gate, each holding it
for a write transaction, they queued behind one another, and a bid's wait grew with the queue (bench/README.md "Hot
auction"). Whoever gets the gate now takes every bid waiting there, in the order they came: each is judged again on
the round as the ones before it left it (the first on the newest state the worker knows), and all of them, leads and
refusals, are kept by one statement that checks the round is still the state the first was judged on, then the
audit events of the leads in one insert, in one transaction. A batch's bids get what they would have got one by one
in that order; a batch in which none leads any more is handed back to be kept as refused outside the gate.

The check is the same as for a single bid (bid_statements): a round another worker changed meanwhile keeps nothing,
and every bid of the batch reads the round again."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from auctions import live
from auctions.services import bid_statements as sql
from auctions.services import lead_gate
from auctions.services.bid_judgement import BidOf, Judged, answered, bid_values, iso, judge, lead_values
from auctions.services.closing import ENTITY
from registry import audit
from registry.db import engine, is_postgres, write_transaction
from registry.money import format_amount

# What a bid that waited at the gate gets: its answer; the bid judged again, refused, to keep outside the gate; or
# None, to read the round again (another worker changed it).
Outcome = tuple[int, dict[str, Any]] | Judged | None


def transaction_connection() -> Any:
    """The asyncpg connection of the current PostgreSQL transaction, else None. The bid path talks to it straight:
    Piccolo's query building cost more CPU per bid than the rest of the bid's own work, and asyncpg prepares each
    statement once per connection and reuses it."""
    if not is_postgres():
        return None
    transaction = engine().current_transaction.get()
    return None if transaction is None else transaction.connection


@dataclass(eq=False, slots=True)
class Waiting:
    judged: Judged  # on the bid's own read
    amount_text: str
    key: str | None
    bid_of: BidOf
    outcome: asyncio.Future[Outcome]


async def through_gate(
    gate: lead_gate.LeadGate, round_id: int, amount_text: str, key: str | None, bid_of: BidOf, judged: Judged
) -> Outcome:
    """A bid judged to lead waits at the gate; the first to get it takes the batch of everyone waiting."""
    me = Waiting(judged, amount_text, key, bid_of, asyncio.get_running_loop().create_future())
    gate.waiting.append(me)
    async with gate.lock:
        if not me.outcome.done():
            batch, gate.waiting = gate.waiting, []
            await _take_batch(gate, round_id, batch)
    return me.outcome.result()


async def _take_batch(gate: lead_gate.LeadGate, round_id: int, batch: list[Waiting]) -> None:
    """Every bid of the batch gets its outcome, whatever happens to the batch's transaction."""
    try:
        for waiting in batch:
            gate.learn(waiting.judged.bid.bidder, waiting.judged.row)
        turns = _judged_in_turn(gate, round_id, batch)
        ids = None
        if any(judged.decision.accepted for judged in turns):
            ids, turns = await _write(gate, round_id, batch, turns)
        for n, waiting in enumerate(batch):
            waiting.outcome.set_result(turns[n] if ids is None else answered(turns[n], ids[n]))
    except UniqueViolationError:
        pass  # a retry of a key in the batch raced its first answer: every bid reads again, and it finds that answer
    except BaseException as exc:
        for waiting in batch:
            if not waiting.outcome.done() and not isinstance(exc, asyncio.CancelledError):
                waiting.outcome.set_exception(exc)
        raise
    finally:
        for waiting in batch:
            if not waiting.outcome.done():
                waiting.outcome.set_result(None)


def _judged_in_turn(gate: lead_gate.LeadGate, round_id: int, batch: list[Waiting]) -> list[Judged]:
    """The batch's bids judged in order, the first on the newest state known, each next on the round as the leads
    before it left it."""
    assert gate.known is not None  # the batch's own reads were just learnt
    state = {name: gate.known[name] for name in lead_gate.ROUND_FIELDS}
    turns = []
    for waiting in batch:
        judged = judge({**waiting.judged.row, **state}, round_id, waiting.amount_text, waiting.bid_of)
        assert isinstance(judged, Judged)  # the bidder's admission and first answer are the first read's
        turns.append(judged)
        if judged.decision.accepted:
            state = lead_gate.after_lead(state, _lead(judged))
    return turns


async def _write(
    gate: lead_gate.LeadGate, round_id: int, batch: list[Waiting], turns: list[Judged]
) -> tuple[list[int] | None, list[Judged]]:
    """The batch kept as judged; or, when another worker changed the round since, judged again on the round read
    under its lock in the same transaction and kept so (the bids no longer go back to read it one by one). The bids'
    ids (None when none of them leads any more: they are refused, and kept outside the gate) and their judgements."""
    async with live.outbox(), write_transaction():
        connection = transaction_connection()
        ids = await take_leads(connection, round_id, _keyed(batch, turns))
        if ids is None:
            gate.read_locked(dict(await connection.fetchrow(sql.ROUND_LOCKED_PG, round_id)))
            turns = _judged_in_turn(gate, round_id, batch)
            if any(judged.decision.accepted for judged in turns):
                ids = await take_leads(connection, round_id, _keyed(batch, turns))
                assert ids is not None  # under the round's lock the round is as judged
        if ids is not None:
            await record_leads(round_id, list(zip(turns, ids, strict=True)))
    if ids is not None:
        last = [judged for judged in turns if judged.decision.accepted][-1]
        gate.led(last.row, _lead(last))
    return ids, turns


def _keyed(batch: list[Waiting], turns: list[Judged]) -> list[tuple[str | None, Judged]]:
    return [(waiting.key, judged) for waiting, judged in zip(batch, turns, strict=True)]


async def take_leads(connection: Any, round_id: int, turns: list[tuple[str | None, Judged]]) -> list[int] | None:
    """In a write transaction: the bids (Idempotency-Key, judged in this order, at least one leading) kept and the
    round left as the last lead left it, if it is still as the first was judged; the audit chain's head held for
    their events. The bids' ids in order, or None."""
    leads = [judged for _, judged in turns if judged.decision.accepted]
    columns = [
        list(column) for column in zip(*(bid_values(round_id, key, judged) for key, judged in turns), strict=True)
    ]
    taken = await connection.fetchrow(
        sql.TAKE_LEADS_IF_UNCHANGED_PG,
        *columns,
        *sql.as_judged(turns[0][1].row),
        *lead_values(leads[-1]),
        turns[0][1].row["bid_count"] + len(leads),
        round_id,
    )
    if taken is None:
        return None
    audit.head_held(taken["seq"], taken["hash"])
    return [int(bid_id) for bid_id in taken["ids"]]


async def record_leads(round_id: int, kept: list[tuple[Judged, int]]) -> None:
    """Inside the transaction that took the leads: their audit events, and their live events once it commits."""
    leads = [(judged, bid_id) for judged, bid_id in kept if judged.decision.accepted]
    events = []
    for judged, bid_id in leads:
        after = {
            "round_id": round_id,
            "bid_id": bid_id,
            "amount": judged.bid.amount,
            "ends_at": judged.decision.ends_at,
        }
        events.append(audit.AuditEntry(ENTITY, judged.row["case_ref"], "bid", after=after, actor=judged.bid.bidder))
    await audit.record_many(leads[0][0].bid.bidder, events)
    for judged, bid_id in leads:
        row, bid, decision = judged.row, judged.bid, judged.decision
        currency = row["currency"]
        event = {
            "event": "bid",
            "id": bid_id,
            "alias": row["alias"],
            "amount": format_amount(bid.amount, currency),
            "current_price": format_amount(decision.price or bid.amount, currency),
            "leader": row["alias"],
            "ends_at": iso(decision.ends_at),
            "extended": decision.extended,
            "at": iso(bid.received_at),
        }
        live.publish_after_commit(round_id, event, seq=row["bid_count"] + 1)


def _lead(judged: Judged) -> dict[str, Any]:
    return dict(zip(sql.LEAD_COLUMNS, lead_values(judged), strict=True))
