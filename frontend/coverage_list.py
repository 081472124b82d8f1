"""The loan coverage list's filters (flag, LTV bucket, borrower, currency) and sort as the page reads and
writes them, so every link (a page, a column's sort, a summary figure, the download) keeps the rest."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

import msgspec

from frontend.paging import Sort, SortLinks, kept_fields, read_sort
from registry.errors import InvalidInputError
from registry.money import MINOR_DIGITS
from valuation.coverage import fx as fx_text
from valuation.coverage.rollups import BUCKETS
from valuation.services.coverage import LOAN_FLAGS, LOAN_SORTS, LoanFilters

SORT_LABELS = {"loan_id": "Loan ref", "ltv": "LTV", "exposure": "Exposure", "uncovered": "Uncovered"}
# A first click on a heading: refs in order, amounts and LTV largest first.
LARGEST_FIRST = {column: column != "loan_id" for column in LOAN_SORTS}
MAX_REF = 64


def _known(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    # The selects send "" for "any"; anything else must be a known value, not silently ignored.
    if not value:
        return None
    if value not in allowed:
        raise InvalidInputError.one(field, f"unknown value {value!r}; one of {', '.join(allowed)}")
    return value


def read_filters(
    flag: str | None, bucket: str | None, borrower: str | None, currency: str | None, sort: str | None
) -> LoanFilters:
    order = read_sort("sort", sort, LOAN_SORTS, default=Sort("loan_id"))
    return LoanFilters(
        flag=_known("flag", flag, LOAN_FLAGS),
        ltv_bucket=_known("bucket", bucket, BUCKETS),
        borrower_id=(borrower or "").strip()[:MAX_REF] or None,
        currency=_known("currency", (currency or "").strip().upper() or None, tuple(MINOR_DIGITS)),
        sort=order.column,
        descending=order.descending,
    )


@dataclass(frozen=True)
class LoanList:
    as_of: date
    include_unperfected: bool
    fx: str
    filters: LoanFilters

    @property
    def sort_text(self) -> str:
        return ("-" if self.filters.descending else "") + self.filters.sort

    @property
    def filtered(self) -> bool:
        f = self.filters
        return any((f.flag, f.ltv_bucket, f.borrower_id, f.currency))

    def params(self, page: int = 1) -> list[tuple[str, str | int]]:
        f = self.filters
        params: list[tuple[str, str | int]] = [("as_of", self.as_of.isoformat())]
        if self.include_unperfected:
            params.append(("include_unperfected", "true"))
        if self.fx.strip():
            params.append(("fx", self.fx.strip()))
        for name, value in (
            ("flag", f.flag),
            ("bucket", f.ltv_bucket),
            ("borrower", f.borrower_id),
            ("currency", f.currency),
        ):
            if value:
                params.append((name, value))
        if self.sort_text != "loan_id":
            params.append(("sort", self.sort_text))
        if page > 1:
            params.append(("page", page))
        return params

    def url(self, page: int = 1) -> str:
        return "/coverage/loans?" + urlencode(self.params(page))

    def query(self, page: int = 1) -> str:
        """The list's state as a query string: a loan's page opened from the list carries it, so its way back
        returns to the same filters, order and page."""
        return urlencode(self.params(page))

    def with_filters(self, **changes: object) -> LoanList:
        return replace(self, filters=msgspec.structs.replace(self.filters, **changes))

    @property
    def sorts(self) -> SortLinks:
        """The sortable headings: each keeps the filters, date and basis, and goes back to the first page."""
        current = Sort(self.filters.sort, self.filters.descending)
        return SortLinks(
            current, LARGEST_FIRST, lambda s: self.with_filters(sort=s.column, descending=s.descending).url()
        )

    def kept(self, *set_here: str) -> list[tuple[str, str]]:
        """The hidden fields of a form on the page that sets `set_here`: the rest of the list's state rides along."""
        return kept_fields(self.params(), *set_here)

    def parquet_url(self) -> str:
        """The API's Parquet of every loan on this date and basis (the API filters none of the page's columns)."""
        params: list[tuple[str, str]] = [("as_of", self.as_of.isoformat()), ("format", "parquet")]
        if self.include_unperfected:
            params.append(("include_unperfected", "true"))
        params += [("fx", rate) for rate in fx_text.split_rates(self.fx)]
        return "/api/coverage/loans?" + urlencode(params)


def summary_loans_url(base: LoanList, currency: str, **filters: str) -> str:
    """A summary figure's loans: the same date and basis, that currency, and the bucket or flag it counts."""
    return base.with_filters(currency=currency, **filters).url()


__all__ = ("BUCKETS", "LOAN_FLAGS", "SORT_LABELS", "LoanList", "read_filters", "summary_loans_url")
