"""Restructuring what-ifs over HTTP (DESIGN 5): proposed changes applied to a copy of the committed book,
coverage before and after for every loan touched and every loan sharing collateral with one. Nothing is
written: the book is read into frames and the changes are applied to those."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import polars as pl

from registry import clock
from registry.errors import FieldErrors, InvalidInputError
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.services.common import check_amount
from valuation.coverage import BookFrames, CoverageResult, WhatIfError, restructuring
from valuation.coverage import compute_coverage as engine
from valuation.coverage.compare import AFTER, BEFORE
from valuation.coverage_schemas import (
    AddLien,
    CapitaliseInterest,
    ProposedChange,
    ReleaseLien,
    SetBalance,
    SubstituteAsset,
    WhatIfLoan,
    WhatIfProposal,
    WhatIfReport,
)
from valuation.services.coverage import figures
from valuation.services.coverage_runs import params, parse_fx, with_base


class _Lookups:
    """The few book rows the proposal names: loans' currencies, liens' loans and assets."""

    def __init__(self, book: BookFrames, changes: Sequence[ProposedChange]) -> None:
        loan_ids = {c.loan_id for c in changes if isinstance(c, CapitaliseInterest | SetBalance)}
        loan_ids |= {ref for c in changes if isinstance(c, AddLien) for ref in c.loan_ids}
        lien_ids = sorted({c.lien_id for c in changes if isinstance(c, ReleaseLien | SubstituteAsset)})
        loans = book.loans.filter(pl.col("loan_id").is_in(sorted(loan_ids))).select("loan_id", "currency").collect()
        self.currency: dict[str, str] = dict(loans.iter_rows())
        liens = book.liens.filter(pl.col("lien_id").is_in(lien_ids)).select("lien_key", "lien_id", "asset_key")
        self.lien_loans: dict[str, list[str]] = {
            lien: list(refs)
            for lien, refs in liens.join(book.lien_loans, on="lien_key")
            .join(book.loans.select("loan_key", "loan_id"), on="loan_key")
            .group_by("lien_id")
            .agg(pl.col("loan_id"))
            .collect()
            .iter_rows()
        }
        self.lien_asset: dict[str, str] = dict(
            liens.join(book.assets.select("asset_key", "asset_id"), on="asset_key")
            .select("lien_id", "asset_id")
            .collect()
            .iter_rows()
        )


def _translate(
    changes: Sequence[ProposedChange], found: _Lookups
) -> tuple[list[restructuring.Change], set[str], set[str]]:
    """The engine's changes (amounts in minor units), the loans they touch and the assets they move."""
    errors = FieldErrors()
    out: list[restructuring.Change] = []
    loans: set[str] = set()
    assets: set[str] = set()
    for i, change in enumerate(changes):
        at = f"changes[{i}]"
        if isinstance(change, CapitaliseInterest | SetBalance):
            currency = found.currency.get(change.loan_id)
            if currency is None:
                errors.add(f"{at}.loan_id", f"unknown loan {change.loan_id!r}")
                continue
            loans.add(change.loan_id)
            if isinstance(change, CapitaliseInterest):
                amount = check_amount(errors, f"{at}.amount", change.amount, currency)
                out.append(restructuring.CapitaliseInterest(change.loan_id, amount))
            else:
                parts = {
                    name: check_amount(errors, f"{at}.{name}", getattr(change, name), currency)
                    for name in BALANCE_COMPONENTS
                }
                out.append(restructuring.SetBalance(change.loan_id, **parts))
        elif isinstance(change, AddLien):
            currencies = [found.currency[ref] for ref in change.loan_ids if ref in found.currency]
            loans.update(change.loan_ids)
            assets.add(change.asset_id)
            cap = check_amount(errors, f"{at}.cap", change.cap, currencies[0] if currencies else None)
            out.append(
                restructuring.AddLien(
                    change.lien_id,
                    change.asset_id,
                    change.loan_ids,
                    change.perfected_at,
                    change.status,
                    cap,
                    change.expires_on,
                )
            )
        else:
            loans.update(found.lien_loans.get(change.lien_id, ()))
            if change.lien_id in found.lien_asset:
                assets.add(found.lien_asset[change.lien_id])
            if isinstance(change, ReleaseLien):
                out.append(restructuring.ReleaseLien(change.lien_id))
            else:
                assets.add(change.asset_id)
                out.append(restructuring.SubstituteAsset(change.lien_id, change.asset_id))
    errors.raise_if_any()
    return out, loans, assets


async def run(proposal: WhatIfProposal) -> WhatIfReport:
    """Coverage before and after the proposal; InvalidInputError names the first change the book refuses."""
    as_of = proposal.as_of or clock.today()
    coverage_params = params(as_of, proposal.include_unperfected, parse_fx(proposal.fx))

    def work(book: BookFrames, before: CoverageResult) -> list[dict[str, Any]]:
        changes, loans, assets = _translate(proposal.changes, _Lookups(book, proposal.changes))
        try:
            proposed = restructuring.apply_changes(book, changes)
        except WhatIfError as exc:
            at = f"changes[{exc.index}]" + (f".{exc.field}" if exc.field else "")
            raise InvalidInputError.one(at, exc.reason) from None
        after = engine(proposed, coverage_params)
        return (
            restructuring.diff(before, after, loans, assets)
            .select(
                "loan_id",
                "borrower_id",
                "currency",
                "touched",
                figures(BEFORE).alias("before"),
                figures(AFTER).alias("after"),
                "breach_change",
            )
            .collect()
            .to_dicts()
        )

    rows = msgspec.convert(await with_base(coverage_params, work), list[WhatIfLoan])
    return WhatIfReport(
        as_of=as_of,
        include_unperfected=proposal.include_unperfected,
        changes=len(proposal.changes),
        loans=rows,
        breaches_appearing=[r.loan_id for r in rows if r.breach_change == "appears"],
        breaches_clearing=[r.loan_id for r in rows if r.breach_change == "clears"],
    )
