"""Restructuring what-ifs (DESIGN 5): proposed changes applied to copies of the frames, and the
before/after comparison of every loan touched or sharing collateral with one.

Changes apply in order, each to the book the previous one left, so a lien released twice in one
proposal is refused like it would be in the registry. Each change looks up only the few rows it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from registry.ledger_rules import BALANCE_COMPONENTS
from valuation.coverage.compare import loans_side_by_side
from valuation.coverage.constants import TERMINAL_LIEN
from valuation.coverage.engine import CoverageResult
from valuation.coverage.errors import WhatIfError
from valuation.coverage.frames import LIEN_LOANS, LIENS, BookFrames


@dataclass(frozen=True, slots=True)
class CapitaliseInterest:
    loan_id: str
    amount: int | None = None  # minor units; None = all outstanding interest


@dataclass(frozen=True, slots=True)
class SetBalance:
    loan_id: str
    principal: int | None = None
    interest: int | None = None
    penalty: int | None = None
    fees: int | None = None


@dataclass(frozen=True, slots=True)
class AddLien:
    lien_id: str
    asset_id: str
    loan_ids: Sequence[str]
    perfected_at: datetime | None
    status: str = "registered"
    cap: int | None = None
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class ReleaseLien:
    lien_id: str


@dataclass(frozen=True, slots=True)
class SubstituteAsset:
    lien_id: str
    asset_id: str  # the asset that replaces the lien's current one


Change = CapitaliseInterest | SetBalance | AddLien | ReleaseLien | SubstituteAsset


def _one(frame: pl.LazyFrame, column: str, ref: str, what: str) -> dict[str, object]:
    rows = frame.filter(pl.col(column) == ref).collect()
    if rows.height != 1:
        raise WhatIfError(f"unknown {what} {ref!r}", field=column)
    return rows.row(0, named=True)


def _set_loan(book: BookFrames, loan_key: object, values: dict[str, int]) -> BookFrames:
    loans = book.loans.with_columns(
        pl.when(pl.col("loan_key") == loan_key).then(pl.lit(v, pl.Int64)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )
    return book.with_frames(loans=loans)


def _apply(book: BookFrames, change: Change) -> BookFrames:
    if isinstance(change, CapitaliseInterest):
        loan = _one(book.loans, "loan_id", change.loan_id, "loan")
        interest = int(loan["interest"])  # type: ignore[call-overload]
        amount = interest if change.amount is None else change.amount
        if amount < 0 or amount > interest:
            raise WhatIfError(
                f"cannot capitalise {amount} of loan {change.loan_id!r}: interest outstanding is {interest}"
            )
        principal = int(loan["principal"])  # type: ignore[call-overload]
        return _set_loan(book, loan["loan_key"], {"principal": principal + amount, "interest": interest - amount})
    if isinstance(change, SetBalance):
        loan = _one(book.loans, "loan_id", change.loan_id, "loan")
        values = {c: getattr(change, c) for c in BALANCE_COMPONENTS if getattr(change, c) is not None}
        if any(v < 0 for v in values.values()):
            raise WhatIfError(f"balance components of loan {change.loan_id!r} cannot be negative")
        return _set_loan(book, loan["loan_key"], values)
    if isinstance(change, AddLien):
        return _add_lien(book, change)
    lien = _one(book.liens, "lien_id", change.lien_id, "lien")
    if lien["status"] in TERMINAL_LIEN:
        raise WhatIfError(f"lien {change.lien_id!r} is already {lien['status']}")
    if isinstance(change, ReleaseLien):
        set_to = {"status": pl.lit("released")}
    else:
        asset = _one(book.assets, "asset_id", change.asset_id, "asset")
        if asset["asset_key"] == lien["asset_key"]:
            raise WhatIfError(f"lien {change.lien_id!r} is already on asset {change.asset_id!r}")
        set_to = {"asset_key": pl.lit(asset["asset_key"], pl.Int64)}
    liens = book.liens.with_columns(
        pl.when(pl.col("lien_key") == lien["lien_key"]).then(value).otherwise(pl.col(c)).alias(c)
        for c, value in set_to.items()
    )
    return book.with_frames(liens=liens)


def _add_lien(book: BookFrames, change: AddLien) -> BookFrames:
    if book.liens.filter(pl.col("lien_id") == change.lien_id).collect().height:
        raise WhatIfError(f"lien {change.lien_id!r} already exists", field="lien_id")
    if change.status not in ("registered", "submitted", "draft"):
        raise WhatIfError(f"a new lien cannot start as {change.status!r}")
    if change.status == "registered" and change.perfected_at is None:
        raise WhatIfError("a registered lien needs perfected_at")
    if not change.loan_ids:
        raise WhatIfError("an own lien secures at least one loan")
    asset = _one(book.assets, "asset_id", change.asset_id, "asset")
    loans = book.loans.filter(pl.col("loan_id").is_in(list(change.loan_ids))).select("loan_key", "loan_id", "currency")
    found = loans.collect()
    unknown = sorted(set(change.loan_ids) - set(found["loan_id"].to_list()))
    if unknown:
        raise WhatIfError(f"unknown loan(s) {', '.join(unknown)}", field="loan_ids")
    if found["currency"].n_unique() > 1:
        raise WhatIfError("the loans of one lien must share a currency")
    key_row = book.liens.select(pl.col("lien_key").max()).collect()
    key = int(key_row.item() or 0) + 1
    new_lien = pl.LazyFrame(
        {
            "lien_key": [key],
            "lien_id": [change.lien_id],
            "asset_key": [asset["asset_key"]],
            "holder": ["own"],
            "status": [change.status],
            "perfected_at": [change.perfected_at],
            "cap": [change.cap],
            "external_claim": [None],
            "expires_on": [change.expires_on],
            "currency": [found["currency"][0]],
        },
        schema=LIENS,
    )
    links = pl.LazyFrame({"lien_key": [key] * found.height, "loan_key": found["loan_key"]}, schema=LIEN_LOANS)
    return book.with_frames(
        liens=pl.concat([book.liens, new_lien], how="vertical"),
        lien_loans=pl.concat([book.lien_loans, links], how="vertical"),
    )


def apply_changes(book: BookFrames, changes: Iterable[Change]) -> BookFrames:
    """The book with the changes applied in order; WhatIfError names the first change that cannot be."""
    book = book.conformed()
    for index, change in enumerate(changes):
        try:
            book = _apply(book, change)
        except WhatIfError as exc:
            raise WhatIfError(exc.reason, index=index, field=exc.field) from None
    return book


def diff(
    before: CoverageResult, after: CoverageResult, touched_loans: Iterable[str], touched_assets: Iterable[str] = ()
) -> pl.LazyFrame:
    """Loans touched, and loans sharing an asset with one of them or standing on a touched asset (one a
    change put a lien on, took one off, or moved one to) before or after, side by side
    (compare.loans_side_by_side's columns, and `touched`)."""
    touched = pl.LazyFrame({"loan_id": sorted(set(touched_loans))}, schema={"loan_id": pl.String})
    named_assets = pl.LazyFrame({"asset_id": sorted(set(touched_assets))}, schema={"asset_id": pl.String})
    links = pl.concat([r.contributions.select("loan_id", "asset_id") for r in (before, after)]).unique()
    assets = pl.concat([links.join(touched, on="loan_id", how="semi").select("asset_id"), named_assets])
    sharing = links.join(assets, on="asset_id", how="semi").select("loan_id")
    loans = pl.concat([touched, sharing]).unique()
    # Narrowed before the join: a handful of loans out of the book's million.
    both = loans_side_by_side(*(r.per_loan.join(loans, on="loan_id", how="semi") for r in (before, after)))
    return both.with_columns(pl.col("loan_id").is_in(touched.collect()["loan_id"].implode()).alias("touched")).sort(
        "loan_id"
    )
