"""Loans and their append-only ledgers. A balance is never stored: it is the sum of the postings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from registry import audit, clock
from registry.db import lock_row, write_transaction
from registry.errors import FieldErrors, InvalidInputError, NotFoundError, StateConflictError
from registry.ledger_rules import BALANCE_COMPONENTS, OVERDUE_COMPONENTS, POSTING_RULES
from registry.money import MoneyError, format_amount, parse_amount, parse_ratio
from registry.schemas.common import Page, Paging
from registry.schemas.loans import Balance, LoanCreate, LoanRead, LoanUpdate, PostingCreate, PostingRead
from registry.services.common import (
    audit_view,
    check_currency,
    check_ref,
    contains,
    ensure_ref_free,
    id_for_ref,
    lock_by_ref,
    read_model,
    row_or_404,
    set_fields,
)
from registry.tables import Loan, Party, Posting


def balance_of(units: dict[str, int], currency: str) -> Balance:
    return Balance(
        **{c: format_amount(units[c], currency) for c in BALANCE_COMPONENTS},
        total=format_amount(sum(units[c] for c in BALANCE_COMPONENTS), currency),
    )


async def balances_for(loan_ids: list[int]) -> dict[int, dict[str, int]]:
    out = {i: dict.fromkeys(BALANCE_COMPONENTS, 0) for i in loan_ids}
    if not loan_ids:
        return out
    rows = await Posting.select(Posting.loan, *(getattr(Posting, c) for c in BALANCE_COMPONENTS)).where(
        Posting.loan.is_in(loan_ids)
    )
    for row in rows:
        acc = out[row["loan"]]
        for c in BALANCE_COMPONENTS:
            acc[c] += row[c]
    return out


AUDITED = ("ref", "borrower_ref", "currency", "status", "classification", "interest_rate", "maturity")


def _check_rate(errors: FieldErrors, field: str, rate: str | None) -> str | None:
    if rate is None:
        return None
    try:
        return str(parse_ratio(rate, low=Decimal(0), high=Decimal(10)))
    except MoneyError as exc:
        errors.add(field, str(exc))
        return None


def _select() -> Any:
    return Loan.select(*Loan.all_columns(), Loan.borrower.ref.as_alias("borrower_ref"))


async def _loan_row(ref: str) -> dict[str, Any]:
    return await row_or_404(_select().where(Loan.ref == ref), "loan", ref)


def _to_read(row: dict[str, Any], units: dict[str, int]) -> LoanRead:
    return read_model(LoanRead, row, balance=balance_of(units, row["currency"]))


async def create_loan(data: LoanCreate, actor: str) -> LoanRead:
    errors = FieldErrors()
    check_ref(errors, "ref", data.ref)
    check_currency(errors, "currency", data.currency)
    rate = _check_rate(errors, "interest_rate", data.interest_rate)
    errors.raise_if_any()
    async with write_transaction():
        borrower_id = await id_for_ref(Party, data.borrower_ref, "party", "borrower_ref")
        await ensure_ref_free(Loan, data.ref, "loan")
        row: dict[str, Any] = {
            "ref": data.ref,
            "borrower": borrower_id,
            "currency": data.currency,
            "status": data.status,
            "classification": data.classification,
            "interest_rate": rate,
            "maturity": data.maturity,
            "created_at": clock.now(),
        }
        result = await Loan.insert(Loan(**row)).returning(Loan.id)
        row["id"], row["borrower_ref"] = result[0]["id"], data.borrower_ref
        await audit.record(actor, "loan", data.ref, "create", after=audit_view(row, AUDITED))
    return _to_read(row, dict.fromkeys(BALANCE_COMPONENTS, 0))


async def get_loan(ref: str) -> LoanRead:
    row = await _loan_row(ref)
    return _to_read(row, (await balances_for([row["id"]]))[row["id"]])


async def list_loans(
    paging: Paging,
    *,
    q: str | None = None,
    borrower_ref: str | None = None,
    status: str | None = None,
    classification: str | None = None,
    currency: str | None = None,
) -> Page[LoanRead]:
    where = []
    if q:
        where.append(contains(Loan.ref, q))
    if borrower_ref:
        where.append(Loan.borrower.ref == borrower_ref)
    if status:
        where.append(Loan.status == status)
    if classification:
        where.append(Loan.classification == classification)
    if currency:
        where.append(Loan.currency == currency)
    total = await Loan.count().where(*where)
    rows = await _select().where(*where).order_by(Loan.ref).limit(paging.page_size).offset(paging.offset)
    balances = await balances_for([r["id"] for r in rows])
    return Page([_to_read(r, balances[r["id"]]) for r in rows], total, paging.page, paging.page_size)


async def update_loan(ref: str, data: LoanUpdate, actor: str) -> LoanRead:
    changes = set_fields(data)
    errors = FieldErrors()
    if "interest_rate" in changes:
        changes["interest_rate"] = _check_rate(errors, "interest_rate", changes["interest_rate"])
    errors.raise_if_any()
    async with write_transaction():
        await lock_by_ref(Loan, ref, "loan")
        before = await _loan_row(ref)
        if changes:
            await Loan.update(changes).where(Loan.id == before["id"])
            await audit.record(
                actor,
                "loan",
                ref,
                "update",
                before=audit_view(before, AUDITED),
                after=audit_view({**before, **changes}, AUDITED),
            )
        after = {**before, **changes}
    return await get_loan(ref) if changes else _to_read(after, (await balances_for([after["id"]]))[after["id"]])


def _posting_read(row: dict[str, Any], loan_ref: str, currency: str) -> PostingRead:
    return PostingRead(
        id=row["id"],
        loan_ref=loan_ref,
        kind=row["kind"],
        value_date=row["value_date"],
        **{c: format_amount(row[c], currency) for c in BALANCE_COMPONENTS},
        memo=row["memo"],
        reverses=row["reverses"],
        posted_by=row["posted_by"],
        posted_at=row["posted_at"],
    )


def posting_deltas(data: PostingCreate, currency: str) -> dict[str, int]:
    """Signed component deltas of a posting, or 422 naming each bad field."""
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


async def _append(
    loan: dict[str, Any],
    deltas: dict[str, int],
    *,
    kind: str,
    value_date: date,
    memo: str,
    reverses: int | None,
    actor: str,
) -> dict[str, Any]:
    current = (await balances_for([loan["id"]]))[loan["id"]]
    errors = FieldErrors()
    for c in BALANCE_COMPONENTS:
        if current[c] + deltas[c] < 0:
            errors.add(c, f"would take {c} below zero (outstanding {format_amount(current[c], loan['currency'])})")
    errors.raise_if_any()
    row: dict[str, Any] = {
        "loan": loan["id"],
        "kind": kind,
        **deltas,
        "value_date": value_date,
        "memo": memo,
        "reverses": reverses,
        "posted_by": actor,
        "posted_at": clock.now(),
    }
    result = await Posting.insert(Posting(**row)).returning(Posting.id)
    row["id"] = result[0]["id"]
    await audit.record(
        actor,
        "loan",
        loan["ref"],
        f"posting:{kind}",
        after={"posting_id": row["id"], **deltas, "value_date": value_date, "memo": memo, "reverses": reverses},
    )
    return row


async def add_posting(ref: str, data: PostingCreate, actor: str) -> PostingRead:
    if len(data.memo) > 255:
        raise InvalidInputError.one("memo", "at most 255 characters")
    async with write_transaction():
        loan = await _loan_row(ref)
        deltas = posting_deltas(data, loan["currency"])
        await lock_row(Loan, loan["id"])  # one writer per ledger, so the no-negative check holds
        row = await _append(
            loan, deltas, kind=data.kind, value_date=data.value_date, memo=data.memo, reverses=None, actor=actor
        )
    return _posting_read(row, ref, loan["currency"])


async def reverse_posting(ref: str, posting_id: int, memo: str, actor: str) -> PostingRead:
    async with write_transaction():
        loan = await _loan_row(ref)
        await lock_row(Loan, loan["id"])
        original = await Posting.select().where((Posting.id == posting_id) & (Posting.loan == loan["id"])).first()
        if original is None:
            raise NotFoundError("posting", posting_id)
        if original["kind"] == "reversal":
            raise StateConflictError(
                "a reversal cannot itself be reversed; post a new entry instead", current="reversal", allowed=[]
            )
        if await Posting.exists().where(Posting.reverses == posting_id):
            raise StateConflictError(f"posting {posting_id} has already been reversed", current="reversed", allowed=[])
        deltas = {c: -original[c] for c in BALANCE_COMPONENTS}
        row = await _append(
            loan,
            deltas,
            kind="reversal",
            value_date=clock.today(),
            memo=memo or f"reversal of posting {posting_id}",
            reverses=posting_id,
            actor=actor,
        )
    return _posting_read(row, ref, loan["currency"])


async def list_postings(ref: str, paging: Paging) -> Page[PostingRead]:
    loan = await _loan_row(ref)
    total = await Posting.count().where(Posting.loan == loan["id"])
    rows = (
        await Posting.select()
        .where(Posting.loan == loan["id"])
        .order_by(Posting.id)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    return Page([_posting_read(r, ref, loan["currency"]) for r in rows], total, paging.page, paging.page_size)
