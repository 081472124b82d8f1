"""Loans, and the postings of their ledgers as the API asks for them (registry.services.ledger writes them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from registry import audit, clock
from registry.db import lock_row, write_transaction
from registry.errors import FieldErrors, NotFoundError, StateConflictError
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import MoneyError, format_amount, parse_ratio
from registry.schemas.common import Page, Paging
from registry.schemas.loans import LoanCreate, LoanRead, LoanUpdate, PostingCreate, PostingRead
from registry.services import common, ledger
from registry.services.ledger import LedgerEntry, balance_of, balances_for
from registry.tables import Loan, Party, Posting

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
    return await common.row_or_404(_select().where(Loan.ref == ref), "loan", ref)


def _to_read(row: dict[str, Any], units: dict[str, int]) -> LoanRead:
    return common.read_model(LoanRead, row, balance=balance_of(units, row["currency"]))


async def create_loan(data: LoanCreate, actor: str) -> LoanRead:
    errors = FieldErrors()
    common.check_ref(errors, "ref", data.ref)
    common.check_currency(errors, "currency", data.currency)
    rate = _check_rate(errors, "interest_rate", data.interest_rate)
    common.check_dates(errors, data, "maturity")
    errors.raise_if_any()
    async with write_transaction():
        borrower_id = await common.id_for_ref(Party, data.borrower_ref, "party", "borrower_ref")
        await common.ensure_ref_free(Loan, data.ref, "loan")
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
        await audit.record(actor, "loan", data.ref, "create", after=common.audit_view(row, AUDITED))
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
        where.append(common.contains(Loan.ref, q))
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
    changes = common.set_fields(data)
    errors = FieldErrors()
    if "interest_rate" in changes:
        changes["interest_rate"] = _check_rate(errors, "interest_rate", changes["interest_rate"])
    common.check_dates(errors, data, "maturity")
    errors.raise_if_any()
    async with write_transaction():
        await common.lock_by_ref(Loan, ref, "loan")
        before = await _loan_row(ref)
        changes = common.actual_changes(before, changes)
        if changes:
            await Loan.update(changes).where(Loan.id == before["id"])
            await common.record_update(actor, "loan", ref, before, {**before, **changes}, AUDITED)
        after = {**before, **changes}
    return await get_loan(ref) if changes else _to_read(after, (await balances_for([after["id"]]))[after["id"]])


def _posting_read(row: dict[str, Any], loan_ref: str, currency: str) -> PostingRead:
    return common.read_model(
        PostingRead, row, loan_ref=loan_ref, **{c: format_amount(row[c], currency) for c in BALANCE_COMPONENTS}
    )


async def _posting(posting_id: int, loan_ref: str, currency: str) -> PostingRead:
    """The posting as stored, read in the writer's transaction."""
    row = await common.row_or_404(Posting.select().where(Posting.id == posting_id), "posting", posting_id)
    return _posting_read(row, loan_ref, currency)


async def add_posting(ref: str, data: PostingCreate, actor: str) -> PostingRead:
    errors = FieldErrors()
    common.check_dates(errors, data, "value_date")
    errors.raise_if_any()
    async with write_transaction():
        loan = await _loan_row(ref)
        deltas = ledger.posting_deltas(data, loan["currency"])
        entry = LedgerEntry(loan["id"], data.kind, deltas, data.value_date, data.memo)
        (posting_id,) = await ledger.write_postings([entry], actor, prefix=None)
        return await _posting(posting_id, ref, loan["currency"])


async def reverse_posting(ref: str, posting_id: int, memo: str, actor: str) -> PostingRead:
    async with write_transaction():
        loan = await _loan_row(ref)
        await lock_row(Loan, loan["id"])  # before the checks: two reversals of one posting must queue
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
        entry = LedgerEntry(loan["id"], "reversal", deltas, clock.today(), memo or f"reversal of posting {posting_id}")
        (reversal_id,) = await ledger.write_postings([entry], actor, reverses=[posting_id], prefix=None)
        return await _posting(reversal_id, ref, loan["currency"])


async def list_postings(ref: str, paging: Paging, *, newest_first: bool = False) -> Page[PostingRead]:
    loan = await _loan_row(ref)
    total = await Posting.count().where(Posting.loan == loan["id"])
    rows = (
        await Posting.select()
        .where(Posting.loan == loan["id"])
        .order_by(Posting.id, ascending=not newest_first)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    return Page([_posting_read(r, ref, loan["currency"]) for r in rows], total, paging.page, paging.page_size)


async def reversed_postings(posting_ids: list[int]) -> dict[int, int]:
    """Of these postings, those already reversed: posting id -> the id of the reversal."""
    if not posting_ids:
        return {}
    rows = await Posting.select(Posting.id, Posting.reverses).where(Posting.reverses.is_in(posting_ids))
    return {r["reverses"]: r["id"] for r in rows}
