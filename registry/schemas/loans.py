from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

import msgspec

from registry.schemas.fields import Amount, Currency, Day, Memo, Rate, Ref

LoanStatus = Literal["performing", "overdue", "non_performing", "restructured", "settled", "written_off"]
LOAN_STATUSES: tuple[str, ...] = get_args(LoanStatus)
Classification = Literal["pass", "special_mention", "substandard", "doubtful", "loss"]
PostingKind = Literal["disbursement", "accrual", "repayment", "disposal_proceeds", "capitalisation", "write_off"]


class LoanCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    borrower_ref: Ref
    currency: Currency
    status: LoanStatus = "performing"
    classification: Classification = "pass"
    interest_rate: Rate | None = None
    maturity: Day | None = None


class LoanUpdate(msgspec.Struct, forbid_unknown_fields=True):
    status: LoanStatus | msgspec.UnsetType = msgspec.UNSET
    classification: Classification | msgspec.UnsetType = msgspec.UNSET
    interest_rate: Rate | msgspec.UnsetType | None = msgspec.UNSET
    maturity: Day | msgspec.UnsetType | None = msgspec.UNSET


class Balance(msgspec.Struct):
    principal: str
    interest: str
    penalty: str
    fees: str
    total: str


class LoanRead(msgspec.Struct):
    id: int
    ref: str
    borrower_ref: str
    currency: str
    status: str
    classification: str
    interest_rate: str | None
    maturity: date | None
    balance: Balance
    created_at: datetime


class PostingCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Amounts are non-negative; the kind says which way they move the balance."""

    kind: PostingKind
    value_date: Day
    principal: Amount = "0"
    interest: Amount = "0"
    penalty: Amount = "0"
    fees: Amount = "0"
    memo: Memo = ""


class ReversalCreate(msgspec.Struct, forbid_unknown_fields=True):
    memo: Memo = ""


class PostingRead(msgspec.Struct):
    id: int
    loan_ref: str
    kind: str
    value_date: date
    principal: str
    interest: str
    penalty: str
    fees: str
    memo: str
    reverses: int | None
    posted_by: str
    posted_at: datetime
