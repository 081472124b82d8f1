"""The loans' append-only ledgers: a balance is the sum of a loan's postings, never stored.

Every posting is written here, by `write_postings`, whether one comes from the API, a reversal, or many
from another package's transaction (a disposal settlement calls `post_entries`): one lock per loan taken
in id order, one read of the balances, one rule that no component goes below zero, one insert, and one
audit event per posting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import add

from registry import audit, clock
from registry.audit import AuditEntry
from registry.db import id_in, insert_rows, lock_rows, write_transaction
from registry.errors import FieldErrors, InvalidInputError, NotFoundError
from registry.ledger_rules import BALANCE_COMPONENTS, OVERDUE_COMPONENTS, POSTING_RULES
from registry.money import MoneyError, format_amount, parse_amount
from registry.schemas.loans import Balance, PostingCreate
from registry.tables import Loan, Posting

_POSTING_COLUMNS = ("loan", "kind", *BALANCE_COMPONENTS, "value_date", "memo", "reverses", "posted_by", "posted_at")
_COMPONENTS = frozenset(BALANCE_COMPONENTS)
# What a posting's audit event keeps: its id, then its columns from the first component to reverses.
_AUDITED = ("posting_id", *_POSTING_COLUMNS[2:9])
_ZEROS = (0,) * len(BALANCE_COMPONENTS)
_INT = {int}
_KIND_LENGTH, _MEMO_LENGTH = 24, 255  # the posting columns' widths


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One posting to make: signed minor units per component (principal, interest, penalty, fees; a
    component left out moves by 0), e.g. {"principal": -5000} for a repayment of 50.00 principal."""

    loan_id: int
    kind: str
    deltas: Mapping[str, int]
    value_date: date
    memo: str


def balance_of(units: Mapping[str, int], currency: str) -> Balance:
    return Balance(
        **{c: format_amount(units[c], currency) for c in BALANCE_COMPONENTS},
        total=format_amount(sum(units[c] for c in BALANCE_COMPONENTS), currency),
    )


async def balances_for(loan_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Each loan's balance per component, summed in the database in one query (0 without postings)."""
    out = {i: dict.fromkeys(BALANCE_COMPONENTS, 0) for i in loan_ids}
    if not loan_ids:
        return out
    condition, param = id_in(sorted(set(loan_ids)))
    # SUM of a BIGINT is NUMERIC on PostgreSQL; cast back so both engines answer integers.
    sums = ", ".join(f"CAST(COALESCE(SUM({c}), 0) AS BIGINT) AS {c}" for c in BALANCE_COMPONENTS)
    rows = await Posting.raw(f"SELECT loan, {sums} FROM posting WHERE loan {condition} GROUP BY loan", param)  # noqa: S608 - fixed column names
    for row in rows:
        out[row["loan"]] = {c: int(row[c]) for c in BALANCE_COMPONENTS}
    return out


def posting_deltas(data: PostingCreate, currency: str) -> dict[str, int]:
    """Signed component deltas of a posting requested over the API, or 422 naming each bad field."""
    allowed, sign = POSTING_RULES[data.kind]
    errors = FieldErrors()
    amounts: dict[str, int] = {}
    for c in BALANCE_COMPONENTS:
        try:
            amounts[c] = parse_amount(getattr(data, c), currency)
        except MoneyError as exc:
            errors.add(c, str(exc))
            continue
        if amounts[c] and c not in allowed:
            errors.add(c, f"a {data.kind} posting cannot carry {c}")
    errors.raise_if_any()
    if not any(amounts.values()):
        raise InvalidInputError.one("principal", "a posting must move at least one component")
    deltas = {c: sign * amounts[c] for c in BALANCE_COMPONENTS}
    if data.kind == "capitalisation":
        deltas["principal"] = sum(amounts[c] for c in OVERDUE_COMPONENTS)
    return deltas


def _field(prefix: str | None, index: int, name: str) -> str:
    return name if prefix is None else f"{prefix}[{index}].{name}"


def _entry_errors(errors: FieldErrors, entry: LedgerEntry, prefix: str | None, index: int) -> None:
    """Why one entry is malformed, each reason against its field."""
    if not entry.deltas.keys() <= _COMPONENTS:
        unknown = ", ".join(sorted(entry.deltas.keys() - _COMPONENTS))
        errors.add(_field(prefix, index, "deltas"), f"unknown component(s) {unknown}")
    if not set(map(type, entry.deltas.values())) <= _INT:
        errors.add(_field(prefix, index, "deltas"), "deltas are whole minor units (int)")
    if not 0 < len(entry.kind) <= _KIND_LENGTH:
        errors.add(_field(prefix, index, "kind"), f"1-{_KIND_LENGTH} characters")
    if len(entry.memo) > _MEMO_LENGTH:
        errors.add(_field(prefix, index, "memo"), f"at most {_MEMO_LENGTH} characters")


def _checked_deltas(entries: Sequence[LedgerEntry], prefix: str | None) -> list[tuple[int, ...]]:
    """Every entry's deltas as a tuple in component order, or 422 naming each malformed entry's field."""
    errors = FieldErrors()
    out = []
    for i, entry in enumerate(entries):
        deltas = entry.deltas
        if not (
            deltas.keys() <= _COMPONENTS
            and set(map(type, deltas.values())) <= _INT
            and 0 < len(entry.kind) <= _KIND_LENGTH
            and len(entry.memo) <= _MEMO_LENGTH
        ):
            _entry_errors(errors, entry, prefix, i)
        out.append(tuple(map(deltas.get, BALANCE_COMPONENTS, _ZEROS)))
    errors.raise_if_any()
    return out


def _check_balances(
    entries: Sequence[LedgerEntry],
    deltas: Sequence[tuple[int, ...]],
    balances: dict[int, tuple[int, ...]],
    currencies: Mapping[int, str],
    prefix: str | None,
) -> None:
    """No component of any loan below zero, entry after entry (several may hit one loan), or 422 naming
    each entry and component that would go below, with what was outstanding before it."""
    errors = FieldErrors()
    for i, (entry, change) in enumerate(zip(entries, deltas, strict=True)):
        before = balances[entry.loan_id]
        after = tuple(map(add, before, change))
        if min(after) >= 0:
            balances[entry.loan_id] = after
            continue  # a refused entry moves nothing, so the entries after it are judged on what stands
        for c, outstanding, left in zip(BALANCE_COMPONENTS, before, after, strict=True):
            if left < 0:
                amount = format_amount(outstanding, currencies[entry.loan_id])
                errors.add(_field(prefix, i, c), f"would take {c} below zero (outstanding {amount})")
    errors.raise_if_any()


async def write_postings(
    entries: Sequence[LedgerEntry],
    actor: str,
    *,
    reverses: Sequence[int | None] | None = None,
    prefix: str | None = "entries",
) -> list[int]:
    """Append the entries to their loans' ledgers; the new postings' ids, in input order.

    Opens or joins a write transaction. Refuses with 422 if any component of any loan would go below
    zero, checked cumulatively in input order; errors name `{prefix}[i].{component}` (just the
    component when prefix is None: one posting from the API). `reverses` gives each entry the posting
    it reverses, if any.
    """
    if not entries:
        return []
    deltas = _checked_deltas(entries, prefix)
    async with write_transaction():
        # One writer per ledger, so the no-negative check holds; the locks are taken in id order, in one query.
        locked = await lock_rows(Loan, sorted({e.loan_id for e in entries}), ("id", "ref", "currency"))
        loans = {r["id"]: r for r in locked}
        for i, entry in enumerate(entries):
            if entry.loan_id not in loans:
                raise NotFoundError("loan", entry.loan_id, _field(prefix, i, "loan_id"))
        balances = {i: tuple(b[c] for c in BALANCE_COMPONENTS) for i, b in (await balances_for(list(loans))).items()}
        _check_balances(entries, deltas, balances, {i: r["currency"] for i, r in loans.items()}, prefix)
        posted_at, reversed_ids = clock.now(), reverses or [None] * len(entries)
        rows = [
            (entry.loan_id, entry.kind, *change, entry.value_date, entry.memo, reversed_id, actor, posted_at)
            for entry, change, reversed_id in zip(entries, deltas, reversed_ids, strict=True)
        ]
        ids = await insert_rows(Posting, _POSTING_COLUMNS, rows)
        refs = {i: r["ref"] for i, r in loans.items()}
        # The date goes in as text already (what the audit's JSON makes of it), without a call back per event.
        events = [
            AuditEntry(
                "loan",
                refs[entry.loan_id],
                f"posting:{entry.kind}",
                after=dict(
                    zip(
                        _AUDITED,
                        (posting_id, *change, entry.value_date.isoformat(), entry.memo, reversed_id),
                        strict=True,
                    )
                ),
            )
            for entry, change, posting_id, reversed_id in zip(entries, deltas, ids, reversed_ids, strict=True)
        ]
        await audit.record_many(actor, events)
    return ids


async def post_entries(entries: Sequence[LedgerEntry], actor: str) -> list[int]:
    """Post many entries in the caller's write transaction (opened if there is none); their posting ids,
    in input order. A component that would go below zero is 422 naming `entries[i].<component>`."""
    return await write_postings(entries, actor)
