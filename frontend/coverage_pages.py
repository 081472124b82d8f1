"""Coverage of the committed book (DESIGN 5): the portfolio summary with its LTV-bucket charts, the list
of loans, and one loan's figures with the liens that explain them. The figures come from
valuation.services.coverage; these handlers only shape them for the templates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.coverage_list import BUCKETS, SORT_LABELS, LoanList, read_filters, summary_loans_url
from frontend.downloads import ListFormat, csv_url, frame_csv
from frontend.paging import page_links
from frontend.templating import amount, layout_context
from registry import clock
from registry.auth import roles
from registry.controllers.params import paging_provider
from registry.errors import DomainError, InvalidInputError
from registry.roles import REGISTRY_READERS
from registry.schemas.common import Page, Paging
from valuation.coverage import fx
from valuation.coverage_schemas import BucketTotals, CoverageContribution, CoverageLoanDetail, CoverageSummary
from valuation.services import coverage
from valuation.services.coverage import LoanFilters
from valuation.services.coverage_runs import CoverageRefused, parse_fx

PAGE_SIZE = 50
CENT = Decimal("0.01")  # amounts arrive rounded to the cent: a remainder within a cent of the share is the share
AsOf = Annotated[date | None, QueryParameter()]
IncludeUnperfected = Annotated[bool, QueryParameter()]
FxText = Annotated[str, QueryParameter(max_length=400)]
ListFilter = Annotated[str | None, QueryParameter(max_length=64)]

# A loan's flags as the pages name them, in the order they are shown.
LOAN_FLAGS = (
    ("breach", "LTV breach"),
    ("no_valuation", "No approved valuation"),
    ("stale_valuation", "Stale valuation"),
    ("unperfected", "Unperfected lien"),
    ("registration_expiring", "Registration expiring"),
    ("asset_seized", "Asset seized"),
    ("possible_double_pledge", "Possible double pledge"),
)
# The per-currency counts of flagged loans in the summary.
PORTFOLIO_FLAGS = tuple((f"loans_{name}", text) for name, text in LOAN_FLAGS[1:])
CONTRIBUTION_FLAGS = tuple((name, text) for name, text in LOAN_FLAGS if name not in {"breach", "unperfected"})


def percent(ratio: str | None) -> str:
    """ "0.866244" -> "86.62%"; None (no collateral, or no exposure) -> "—"."""
    if ratio is None:
        return "—"
    try:
        return f"{Decimal(ratio) * 100:,.2f}%"
    except InvalidOperation:
        return ratio


# Helpers the coverage templates call (the shared filters live in frontend.templating).
FORMAT = {"percent": percent, "loan_flags": LOAN_FLAGS}


def fx_rates(text: str) -> dict[tuple[str, str], Decimal]:
    """The FX field ("CNY/USD=0.1405 HKD/CNY=0.92", spaces or commas between) as the services take it."""
    return parse_fx(fx.split_rates(text))


def fx_refusal(exc: DomainError) -> str | None:
    """What the FX field says when the rates typed there, or missing ones, stop the coverage run; None when the
    refusal is about something else (it then goes to the error page as before)."""
    if isinstance(exc, InvalidInputError):
        reasons = [reason for name, reason in exc.errors if name.startswith("fx")]
        return "; ".join(reasons) if len(reasons) == len(exc.errors) else None
    if isinstance(exc, CoverageRefused):
        return exc.detail
    return None


def coverage_query(as_of: date, include_unperfected: bool, page: int = 1, fx: str = "", flag: str | None = None) -> str:
    """The query string that keeps the coverage date, lien basis, FX rates and the loans' flag from page to page."""
    params: list[tuple[str, str | int]] = [("as_of", as_of.isoformat())]
    if include_unperfected:
        params.append(("include_unperfected", "true"))
    if fx.strip():
        params.append(("fx", fx.strip()))
    if flag:
        params.append(("flag", flag))
    if page > 1:
        params.append(("page", page))
    return urlencode(params)


def bucket_charts(buckets: list[BucketTotals]) -> list[dict[str, Any]]:
    """Per currency: the bucket rows for the table and the data the chart script draws (exposure per
    LTV bucket, amounts kept as the service's decimal strings)."""
    charts: dict[str, dict[str, Any]] = {}
    for row in buckets:
        chart = charts.setdefault(
            row.currency,
            {
                "currency": row.currency,
                "rows": [],
                "data": {
                    "currency": row.currency,
                    "labels": [],
                    "measure": "Exposure",
                    "series": [{"label": f"Exposure ({row.currency})", "values": [], "loans": []}],
                },
            },
        )
        chart["rows"].append(row)
        chart["data"]["labels"].append(row.ltv_bucket)
        chart["data"]["series"][0]["values"].append(row.exposure)
        chart["data"]["series"][0]["loans"].append(row.loans)
    return list(charts.values())


def explain(item: CoverageContribution, loan_currency: str) -> str:
    """One plain sentence saying why a lien gives the loan what it does."""
    unit = item.value_currency or loan_currency
    value, prior = Decimal(item.asset_value_after_haircut), Decimal(item.prior_ranks_took)
    claim, share = Decimal(item.lien_claim), Decimal(item.lien_share)
    worth_text = f"{amount(item.asset_value_after_haircut)} {unit}"
    if item.no_valuation:
        worth = f"{item.asset_id} has no approved valuation, so it counts as {worth_text}"
    else:
        worth = f"{item.asset_id} is worth {worth_text} after the haircut"
    took = f"earlier ranks took {amount(item.prior_ranks_took)}"
    if claim == 0:
        met = f"lien {item.lien_id} claims nothing, since its loans owe nothing"
    elif share >= claim:
        met = f"lien {item.lien_id}'s claim of {amount(item.lien_claim)} was met in full"
    elif share == 0:
        met = f"nothing was left for lien {item.lien_id}'s claim of {amount(item.lien_claim)}"
    elif value - prior - share > CENT:  # the rank's other liens took the rest, pro rata to their claims
        met = (
            f"lien {item.lien_id}'s claim of {amount(item.lien_claim)} shares what was left with other liens "
            f"of rank {item.rank}, which gives it {amount(item.lien_share)}"
        )
    else:
        met = (
            f"lien {item.lien_id}'s claim of {amount(item.lien_claim)} was met only in part, "
            f"with the {amount(item.lien_share)} that was left"
        )
    currency = "" if unit == loan_currency else f" {loan_currency}"
    said = f"{worth}; {took}; {met}; this loan's share of it is {amount(item.loan_share)}{currency}"
    if Decimal(item.loan_reach) > Decimal(item.loan_share):
        said += (
            f". The rank leaves {amount(item.lien_surplus)} free, which the lien could also reach: "
            f"LTV counts {amount(item.loan_reach)}{currency} for this loan"
        )
    return said + "."


def _detail_context(detail: CoverageLoanDetail) -> dict[str, Any]:
    loan = detail.loan
    flags = {name: bool(getattr(loan, name, False) or getattr(detail, name, False)) for name, _ in LOAN_FLAGS}
    return {
        "detail": detail,
        "loan": loan,
        "flags": flags,
        "any_flag": any(flags.values()),
        "rows": [(item, explain(item, loan.currency)) for item in detail.contributions],
        "contribution_flags": CONTRIBUTION_FLAGS,
    }


class CoveragePagesController(Controller):
    path = "/coverage"
    dependencies = {"paging": paging_provider(PAGE_SIZE, sized=False)}

    @get(name="pages:coverage", opt=roles(REGISTRY_READERS))
    async def summary_page(
        self,
        request: Request[Any, Any, Any],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fx: FxText = "",
    ) -> Template:
        day = as_of or clock.today()
        errors: dict[str, str] = {}
        try:
            found = await coverage.summary(day, include_unperfected, fx_rates(fx))
        except DomainError as exc:
            if (reason := fx_refusal(exc)) is None:
                raise
            errors["fx"] = reason
            found = CoverageSummary(
                as_of=day, include_unperfected=include_unperfected, portfolio=[], ltv_buckets=[], asset_kinds=[]
            )
        return Template(
            template_name="coverage/summary.html",
            context={
                **layout_context(request),
                **FORMAT,
                "as_of": day,
                "include_unperfected": include_unperfected,
                "fx": fx,
                "summary": found,
                "charts": bucket_charts(found.ltv_buckets),
                "portfolio_flags": PORTFOLIO_FLAGS,
                "query": coverage_query(day, include_unperfected, fx=fx),
                # Each figure opens the loans it counts: that currency, and its bucket or flag.
                "loans_url": partial(summary_loans_url, LoanList(day, include_unperfected, fx, LoanFilters())),
                "errors": errors,
            },
            status_code=HTTP_422_UNPROCESSABLE_ENTITY if errors else HTTP_200_OK,
        )

    @get("/loans", name="pages:coverage-loans", opt=roles(REGISTRY_READERS))
    async def loans_page(
        self,
        request: Request[Any, Any, Any],
        paging: NamedDependency[Paging],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fx: FxText = "",
        flag: ListFilter = None,
        bucket: ListFilter = None,
        borrower: ListFilter = None,
        currency: ListFilter = None,
        sort: ListFilter = None,
        fmt: Annotated[ListFormat, QueryParameter(name="format")] = "html",
    ) -> Template | Response[bytes]:
        day = as_of or clock.today()
        listing = LoanList(day, include_unperfected, fx, read_filters(flag, bucket, borrower, currency, sort))
        if fmt == "csv":
            frame = await coverage.loans_filtered_export(day, include_unperfected, listing.filters, fx_rates(fx))
            return frame_csv(f"loan-coverage-{day.isoformat()}.csv", frame)
        errors: dict[str, str] = {}
        try:
            found = await coverage.loans_page(day, include_unperfected, paging, fx_rates(fx), listing.filters)
        except DomainError as exc:
            if (reason := fx_refusal(exc)) is None:
                raise
            errors["fx"] = reason
            found = Page([], 0, paging.page, paging.page_size)
        return Template(
            template_name="coverage/loans.html",
            context={
                **layout_context(request),
                **FORMAT,
                "as_of": day,
                "include_unperfected": include_unperfected,
                "fx": fx,
                "page": found,
                "listing": listing,
                "links": page_links(found, listing.url),
                "query": coverage_query(day, include_unperfected, fx=fx),
                "flag": listing.filters.flag,
                # The select's choices: the flags a loan's coverage row carries (the list filters by them).
                "flag_filters": [(name, text) for name, text in LOAN_FLAGS if name in coverage.LOAN_FLAGS],
                "buckets": BUCKETS,
                "sort_labels": SORT_LABELS,
                "csv_url": csv_url(listing.url()),
                "errors": errors,
            },
            status_code=HTTP_422_UNPROCESSABLE_ENTITY if errors else HTTP_200_OK,
        )

    @get("/loans/{ref:str}", name="pages:coverage-loan", opt=roles(REGISTRY_READERS))
    async def loan_page(
        self,
        request: Request[Any, Any, Any],
        ref: FromPath[str],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fx: FxText = "",
        flag: ListFilter = None,
        bucket: ListFilter = None,
        borrower: ListFilter = None,
        currency: ListFilter = None,
        sort: ListFilter = None,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    ) -> Template:
        """A loan's coverage and why; the list's filters, order and page, when it was opened from the list, only
        shape the way back to it (a value the list would refuse is dropped: the way back is then the plain list)."""
        day = as_of or clock.today()
        detail = await coverage.loan_detail(ref, day, include_unperfected, fx_rates(fx))  # NotFoundError: the 404 page
        try:
            filters = read_filters(flag, bucket, borrower, currency, sort)
        except InvalidInputError:
            filters, page = LoanFilters(), 1
        back = LoanList(day, include_unperfected, fx, filters).url(page)
        return Template(
            template_name="coverage/loan.html",
            context={
                **layout_context(request),
                **FORMAT,
                **_detail_context(detail),
                "as_of": day,
                "include_unperfected": include_unperfected,
                "fx": fx,
                "query": coverage_query(day, include_unperfected, fx=fx),
                "back": back,
            },
        )
