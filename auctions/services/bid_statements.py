"""The bid path's SQL: one read of everything a bid is judged on, and on PostgreSQL the writes that keep a bid only
if the round is still as that read saw it.

A hot round's bids used to queue on the round's row lock across three round trips each (lock, insert, commit); with
the service's event loop busy pushing the live feed to thousands of watchers, every one of those trips waited its
turn, and the lock was held for that wait (bench/README.md, "Hot auction"). Here a bid is judged on a plain read and
kept by one statement that takes the round's row lock, checks that nothing the judgement read has changed since, and
writes: the lock is held for that statement only (an accepted bid's until its audit event commits with it)."""

from __future__ import annotations

from typing import Any

# The round, its case, the bidder's admission and any first answer to this Idempotency-Key, in one read.
STATE_SQL = """
SELECT r.id, r.status, r.starting_price, r.increment, r.starts_at, r.ends_at, r.current_price, r.leader,
       r.leader_rank, r.leader_bid_at, r.bid_count, c.ref AS case_ref, c.profile AS profile, c.currency AS currency,
       b.alias AS alias, b.preemption_rank AS preemption_rank, b.id AS admitted,
       k.id AS first_id, k.status_code AS first_status, k.response AS first_response
FROM auction_round r
JOIN disposal_case c ON c.id = r."case"
LEFT JOIN round_bidder b ON b.round = r.id AND b.username = {}
LEFT JOIN bid k ON k.round = r.id AND k.bidder = {} AND k.idempotency_key = {}
WHERE r.id = {}
"""


def numbered(sql: str) -> str:
    """Piccolo's `{}` placeholders as asyncpg's `$1`, `$2`…"""
    return sql.format(*(f"${n}" for n in range(1, sql.count("{}") + 1)))


STATE_PG = numbered(STATE_SQL)
# NO KEY UPDATE: the bids' inserts check their foreign key with a KEY SHARE lock on the round, which FOR UPDATE
# would block; bids that may lead still queue on this lock one by one.
STATE_LOCKED_PG = numbered(STATE_SQL + " FOR NO KEY UPDATE OF r")

# The round's own fields of a bid's read (lead_gate.ROUND_FIELDS), under its lock: a batch of bids at a worker's gate
# whose round another worker changed is judged again on this, in the same transaction (auctions.services.leads).
ROUND_LOCKED_PG = """
SELECT status, starting_price, increment, starts_at, ends_at, current_price, leader, leader_rank, leader_bid_at,
       bid_count
FROM auction_round WHERE id = $1 FOR NO KEY UPDATE
"""

# The bid's columns, in the order of its values ($1 to $13 of every statement below).
BID_COLUMNS = (
    "round",
    "bidder",
    "alias",
    "amount",
    "received_at",
    "accepted",
    "code",
    "reason",
    "price_after",
    "ends_at_after",
    "idempotency_key",
    "status_code",
    "response",
)
_BID_COLUMNS = ", ".join(BID_COLUMNS)
INSERT_BID_PG = (
    f"INSERT INTO bid ({_BID_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id"  # noqa: S608
)
# The same values as a SELECT list, typed (a SELECT's parameters take no type from the insert's columns).
_BID_SELECT = """$1::integer, $2::varchar, $3::varchar, $4::bigint, $5::timestamptz, $6::boolean, $7::varchar,
                 $8::text, $9::bigint, $10::timestamptz, $11::varchar, $12::integer, $13::text"""

# The same as arrays, one per column, for many bids at once.
_BID_ARRAYS = """$1::integer[], $2::varchar[], $3::varchar[], $4::bigint[], $5::timestamptz[], $6::boolean[],
                 $7::varchar[], $8::text[], $9::bigint[], $10::timestamptz[], $11::varchar[], $12::integer[],
                 $13::text[]"""


# What a bid's judgement read of the round ($14 to $19): a bid is kept only while all of it is unchanged. Every other
# column the judgement uses (the price, the leader) moves only with bid_count.
def _unchanged(round_id: str) -> str:
    return f"""id = {round_id} AND bid_count = $14 AND status = $15 AND ends_at = $16 AND starts_at = $17
                AND starting_price = $18 AND increment = $19"""


_UNCHANGED = _unchanged("$1")

# A refused bid, kept only if the round is as judged. FOR SHARE waits for a bid taking the lead right now and then
# reads the round as it left it, so no refusal is kept against a state that an earlier bid had already changed.
KEEP_REFUSED_IF_UNCHANGED_PG = f"""
WITH unchanged AS (SELECT id FROM auction_round WHERE {_UNCHANGED} FOR SHARE)
INSERT INTO bid ({_BID_COLUMNS}) SELECT {_BID_SELECT} FROM unchanged RETURNING id
"""  # noqa: S608 - built from constants of this module, no input

# A refusal that no later state of the round could turn into an acceptance (below the start, below the increment:
# the least that leads only rises, pre-emption ties included), kept while the round is still the one judged or a
# later state of it: same status, start and figures, no fewer accepted bids, the end not earlier (it only moves
# later). A hot round's accepted bids would otherwise send most of its refusals round again for a new read.
KEEP_SURE_REFUSAL_PG = f"""
WITH still AS (
    SELECT id FROM auction_round
    WHERE id = $1 AND bid_count >= $14 AND status = $15 AND ends_at >= $16 AND starts_at = $17
          AND starting_price = $18 AND increment = $19
)
INSERT INTO bid ({_BID_COLUMNS}) SELECT {_BID_SELECT} FROM still RETURNING id
"""  # noqa: S608 - built from constants of this module, no input

# What an accepted bid writes to the round ($20 to $24 below), in order.
LEAD_COLUMNS = ("current_price", "leader", "leader_rank", "leader_bid_at", "ends_at")

# Bids judged in turn at a worker's gate, at least one of them leading (auctions.services.leads), or one bid under
# the round's lock: kept ($1 to $13, one array per column, in order) only if the round ($26) is as the first was
# judged ($14 to $19), the round then left as the last lead left it ($20 to $24, and $25 accepted bids in all). The
# same statement then takes the audit chain's lock and reads its head for the leads' events (registry.audit.head_held):
# the round's row first, then the chain, the order every writer takes them in (audit_chain_head is given the first
# bid's id, so it runs only after the row is locked, and not at all when the round had changed). The row lock is held
# until the transaction that also writes the audit events commits. Answers (the bids' ids in order, head seq, head
# hash), or no row.
TAKE_LEADS_IF_UNCHANGED_PG = f"""
WITH led AS (
    UPDATE auction_round SET current_price = $20, leader = $21, leader_rank = $22, leader_bid_at = $23, ends_at = $24,
           bid_count = $25
    WHERE {_unchanged("$26")} RETURNING id
), kept AS (
    INSERT INTO bid ({_BID_COLUMNS})
    SELECT {", ".join(f"given.{name}" for name in BID_COLUMNS)}
    FROM led, unnest({_BID_ARRAYS}) WITH ORDINALITY AS given({_BID_COLUMNS}, ordinal)
    ORDER BY given.ordinal RETURNING id
), first AS (SELECT min(id) AS id FROM kept)
SELECT ARRAY(SELECT id FROM kept ORDER BY id) AS ids, head.seq, head.hash
FROM first CROSS JOIN LATERAL audit_chain_head(first.id) AS head
WHERE first.id IS NOT NULL
"""  # noqa: S608 - built from constants of this module, no input


def as_judged(row: dict[str, Any]) -> tuple[Any, ...]:
    """The values of `_UNCHANGED` ($14 to $19) as the judgement read them."""
    return (row["bid_count"], row["status"], row["ends_at"], row["starts_at"], row["starting_price"], row["increment"])
