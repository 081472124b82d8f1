"""What moved in the book since a cached version: the audit events after it, and the current rows they touched.

Every write that can move coverage appends an audit event in its own transaction, naming what it changed: a
loan (its postings, status, borrower), an asset (status, parcel and with it the double-pledge marks of the
assets it overlaps, named in the event), a lien (registration, links to loans, cap), a valuation. Those become
touched keys and their current rows are read, all in one read transaction with the chain's head, so the rows
and the version they are filed under agree. Anything else that can move coverage across the book (an import,
a policy, a valuation upload, a parcel rescan, an event of a kind not known here) or a long run of events asks
for a whole read instead (None). Events of disposal, parties and users move nothing here: a disposal's effect on
the book is written through the loan, asset and lien services, with their own events, and a party's ref (all
coverage reads of it) never changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from registry.db import engine, id_in, is_postgres
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.tables import AuditEvent
from valuation.coverage import frames
from valuation.coverage.incremental import Keys, Rows

# Beyond this many events since the cached version a whole read is about as quick, and simpler to trust.
MAX_EVENTS = 500
_PATCHED = ("loan", "asset", "lien", "valuation")
# A disposal moves the book through loan, asset and lien events of their own; a party's ref, all coverage reads of
# it, never changes.
_UNMOVED = ("user", "disposal", "party")
_PARTNERS = "possible_double_pledge_with"


@dataclass
class _Seeds:
    loans: set[str] = field(default_factory=set)
    assets: set[str] = field(default_factory=set)
    liens: set[str] = field(default_factory=set)
    valuations: set[int] = field(default_factory=set)


def _partners(*texts: str | None) -> set[str]:
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(json.loads(text).get(_PARTNERS, []))
    return found


def seeds_of(events: Iterable[dict[str, Any]]) -> _Seeds | None:
    """The refs the events name, or None when one of them can move coverage beyond what it names."""
    seeds = _Seeds()
    for event in events:
        entity, ref, action = event["entity"], event["entity_ref"], event["action"]
        if entity in _UNMOVED:
            continue
        if entity not in _PATCHED:
            return None
        if entity == "loan":
            seeds.loans.add(ref)
        elif entity == "asset":
            seeds.assets.add(ref)
            if action == "parcel_overlaps":
                seeds.assets |= _partners(event["before"], event["after"])
        elif entity == "lien":
            seeds.liens.add(ref)
        elif ref.isdigit():
            seeds.valuations.add(int(ref))
        else:
            return None
    return seeds


@dataclass(frozen=True, slots=True)
class Changes:
    version: tuple[int, str]
    touched: Keys
    rows: Rows


async def _raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    return list(await AuditEvent.raw(sql, *args))


def _in(column: str, ids: Sequence[int]) -> tuple[str, Any]:
    """`column` among ids, as a condition with one Piccolo placeholder ({}) and its value."""
    condition, value = id_in(ids)
    return f"{column} {condition}", value


async def _keys_of(table: str, refs: set[str]) -> set[int]:
    if not refs:
        return set()
    placeholder = "= ANY({})" if is_postgres() else "IN (SELECT value FROM json_each({}))"
    value: Any = sorted(refs) if is_postgres() else json.dumps(sorted(refs))
    rows = await _raw(f"SELECT id FROM {table} WHERE ref {placeholder}", value)  # noqa: S608 - our own names
    return {int(r["id"]) for r in rows}


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([{name: row[name] for name in schema} for row in rows], schema=schema, orient="row")


async def _rows(touched: Keys) -> Rows:
    loans, assets, liens = sorted(touched.loans), sorted(touched.assets), sorted(touched.liens)
    balances = ", ".join(f"CAST(COALESCE(SUM(p.{x}), 0) AS BIGINT) AS {x}" for x in BALANCE_COMPONENTS)
    where, value = _in("l.id", loans)
    loan_rows = await _raw(
        f"""SELECT l.id AS loan_key, l.ref AS loan_id, b.ref AS borrower_id, l.currency, {balances}, l.status
            FROM loan l JOIN party b ON b.id = l.borrower LEFT JOIN posting p ON p.loan = l.id
            WHERE {where} GROUP BY l.id, l.ref, b.ref, l.currency, l.status ORDER BY l.id""",  # noqa: S608
        value,
    )
    where, value = _in("id", assets)
    asset_rows = await _raw(
        f"SELECT id AS asset_key, ref AS asset_id, kind, status FROM asset WHERE {where} ORDER BY id",  # noqa: S608
        value,
    )
    where, value = _in("asset", assets)
    valuation_rows = await _raw(
        f"""SELECT asset AS asset_key, valued_on, market_value, currency, status FROM valuation
            WHERE status = 'approved' AND {where} ORDER BY id""",  # noqa: S608
        value,
    )
    where, value = _in("id", liens)
    lien_rows = await _raw(
        f"""SELECT id AS lien_key, ref AS lien_id, asset AS asset_key, holder, status, perfected_at, cap,
                   external_claim, expires_on, currency FROM lien WHERE {where} ORDER BY id""",  # noqa: S608
        value,
    )
    by_lien, lien_value = _in("lien", liens)
    by_loan, loan_value = _in("loan", loans)
    link_rows = await _raw(
        f"SELECT lien AS lien_key, loan AS loan_key FROM lien_loan WHERE {by_lien} OR {by_loan} ORDER BY id",  # noqa: S608
        lien_value,
        loan_value,
    )
    side_a, a_value = _in("asset_a", assets)
    side_b, b_value = _in("asset_b", assets)
    marked = await _raw(
        f"""SELECT asset_a AS a, asset_b AS b FROM parcel_overlap WHERE {side_a} OR {side_b}""",  # noqa: S608
        a_value,
        b_value,
    )
    touched_assets = set(assets)
    double = sorted({int(r[side]) for r in marked for side in ("a", "b")} & touched_assets)
    for row in valuation_rows:
        row["valued_on"] = _day(row["valued_on"])
    for row in lien_rows:
        row["perfected_at"], row["expires_on"] = _instant(row["perfected_at"]), _day(row["expires_on"])
    return Rows(
        loans=_frame(loan_rows, frames.LOANS),
        assets=_frame(asset_rows, frames.ASSETS),
        valuations=_frame(valuation_rows, frames.VALUATIONS),
        liens=_frame(lien_rows, frames.LIENS),
        lien_loans=_frame(link_rows, frames.LIEN_LOANS),
        double_pledge_assets=pl.DataFrame({"asset_key": double}, schema=frames.DOUBLE_PLEDGE),
    )


async def changes_since(version: tuple[int, str]) -> Changes | None:
    """The head of the chain, the keys the events after `version` (seq, hash) touched and their current rows,
    read in one transaction; None when those events need a whole read of the book, or when the event at that seq
    is not the one the version names (another chain: a database restored, or replaced under the process)."""
    seq, head_hash = version
    async with engine().transaction():
        if is_postgres():
            await AuditEvent.raw("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        events = await _raw(
            f"""SELECT seq, hash, entity, entity_ref, action, before, after FROM audit_event
                WHERE seq >= {int(seq)} ORDER BY seq LIMIT {MAX_EVENTS + 2}"""  # noqa: S608 - integers only
        )
        if seq > 0:
            if not events or int(events[0]["seq"]) != seq or str(events[0]["hash"]) != head_hash:
                return None
            events = events[1:]
        if not events or len(events) > MAX_EVENTS:
            return None
        seeds = seeds_of(events)
        if seeds is None:
            return None
        valuation_assets: set[int] = set()
        if seeds.valuations:
            where, value = _in("id", sorted(seeds.valuations))
            found = await _raw(f"SELECT asset FROM valuation WHERE {where}", value)  # noqa: S608
            valuation_assets = {int(r["asset"]) for r in found}
        touched = Keys(
            loans=frozenset(await _keys_of("loan", seeds.loans)),
            assets=frozenset(await _keys_of("asset", seeds.assets) | valuation_assets),
            liens=frozenset(await _keys_of("lien", seeds.liens)),
        )
        rows = await _rows(touched)
    head = events[-1]
    return Changes(version=(int(head["seq"]), str(head["hash"])), touched=touched, rows=rows)
