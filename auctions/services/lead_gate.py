"""What one worker knows of a round it takes bids for: the newest state it read or left, and the bidders it saw
admitted; and the gate at which its bids that may take the lead wait, to be taken in batches (auctions.services.leads).

On a hot round many bids read the same state, each is judged to lead, and all race to take the lead: one wins, and
every other spent a write transaction finding the round changed and then a new read, only to be refused (most of a
hot round's database work, bench/README.md "Hot auction"). A worker now lets such bids try one batch at a time and
remembers the round as the batch's last lead left it; the next, judged again on that, is mostly a refusal. A bid that
the newest state the worker knows refuses for good (below the start or the increment, which no later state can
accept) is kept without a read at all.

What a gate remembers is a hint, never trusted: every write still checks the round in SQL (bid_statements), so a
round another worker changed, or one closed since, is read again: under its lock by a batch, by the bid itself for a
refusal."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# The round's own columns of a bid's read (bid_statements.STATE_SQL): what a lead changes, and what it is checked on.
ROUND_FIELDS = (
    "status",
    "starting_price",
    "increment",
    "starts_at",
    "ends_at",
    "current_price",
    "leader",
    "leader_rank",
    "leader_bid_at",
    "bid_count",
)
# The columns of a bid's read that are the bidder's admission (immutable once made: alias, right, row).
ADMISSION_FIELDS = ("alias", "preemption_rank", "admitted")
# The columns of the round's case (they never change while it has rounds).
CASE_FIELDS = ("case_ref", "profile", "currency")
# How old a known state may be to refuse a bid without a read: a refusal answers with the price it was judged on, and
# a bidder should not be told one much older than what a read would show.
FRESH_SECONDS = 1.0
# Rounds bidding at once on one worker are a handful; the bound only keeps a long-running worker's memory flat.
_KEPT = 1024


@dataclass
class LeadGate:
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held by a bid of this worker taking the lead
    known: dict[str, Any] | None = None  # the round's and its case's fields as this worker last read or left them
    known_at: float = 0.0  # time.monotonic() of `known`
    admitted: dict[str, dict[str, Any]] = field(default_factory=dict)  # username -> ADMISSION_FIELDS
    waiting: list[Any] = field(default_factory=list)  # bids waiting for the gate, in order (auctions.services.leads)

    def learn(self, username: str, row: dict[str, Any]) -> None:
        """A bid's read of the round: remember the round if it is not older than what is known, and the bidder's
        admission."""
        if row["admitted"] is not None:
            self.admitted[username] = {name: row[name] for name in ADMISSION_FIELDS}
        if self.known is None or self.known["bid_count"] <= row["bid_count"]:
            self._remember(row)

    def as_read(self, username: str) -> dict[str, Any] | None:
        """What a read for this bidder would give (its first answer to a key aside), from what is known if it is
        fresh and the bidder was seen admitted; else None."""
        known, admission = self.known, self.admitted.get(username)
        if known is None or admission is None or time.monotonic() - self.known_at > FRESH_SECONDS:
            return None
        return {**known, **admission, "first_id": None, "first_status": None, "first_response": None}

    def newest(self, row: dict[str, Any]) -> dict[str, Any]:
        """`row` (a bid's read), with the round's fields as this worker last left them if that is later: the round's
        count of accepted bids only rises, so a higher count is a later state."""
        known = self.known
        if known is None or known["bid_count"] <= row["bid_count"]:
            return row
        return {**row, **known}  # its case fields are the row's own

    def led(self, row: dict[str, Any], lead: dict[str, Any]) -> None:
        """This worker's bids took the lead on `row` (committed): the round is now `row` with `lead`, unless a read
        saw a later state meanwhile."""
        self._later(after_lead(row, lead))

    def read_locked(self, fields: dict[str, Any]) -> None:
        """The round's own fields (ROUND_FIELDS) read under its lock: the round as it is, whatever was known. Only
        after `learn`, which knows its case."""
        assert self.known is not None
        self._remember({**self.known, **fields})

    def _later(self, row: dict[str, Any]) -> None:
        if self.known is None or self.known["bid_count"] < row["bid_count"]:
            self._remember(row)

    def _remember(self, row: dict[str, Any]) -> None:
        self.known = {name: row[name] for name in (*ROUND_FIELDS, *CASE_FIELDS)}
        self.known_at = time.monotonic()

    def forget(self) -> None:
        """Another worker changed the round: only a read knows it now."""
        self.known = None


def after_lead(row: dict[str, Any], lead: dict[str, Any]) -> dict[str, Any]:
    """The round `row`, after a lead (LEAD_COLUMNS) taken on it."""
    return {**row, **lead, "bid_count": row["bid_count"] + 1}


_gates: OrderedDict[tuple[int, int], LeadGate] = OrderedDict()


def of(pool: Any, round_id: int) -> LeadGate:
    """The gate of a round on this pool's database (tests run apps on several databases in one process)."""
    key = (id(pool), round_id)
    gate = _gates.get(key)
    # A lock belongs to the loop it first waited on; a pool's id may come again in a later loop (tests).
    if gate is None or gate.loop is not asyncio.get_running_loop():
        gate = _gates[key] = LeadGate()
        if len(_gates) > _KEPT:
            _gates.popitem(last=False)
    else:
        _gates.move_to_end(key)
    return gate


def forget_all() -> None:
    """Every gate forgets what it knew, as if each round had been changed by another worker."""
    for gate in _gates.values():
        gate.forget()
