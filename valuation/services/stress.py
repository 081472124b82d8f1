"""Stress scenarios over HTTP (DESIGN 5): shocks by asset kind and by GeoJSON region, the base and the
stressed book side by side. Nothing is written.

Which assets a region holds is answered here, from the stored parcels (Shapely, in
registry.services.parcel_search); the engine gets a multiplier per asset (valuation.coverage.shocks)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
import polars as pl

from registry import clock
from registry.errors import FieldErrors, InvalidInputError
from registry.schemas.common import Paging
from registry.services.parcel_search import asset_ids_in_region, parse_region
from valuation.coverage import BookFrames, CoverageResult
from valuation.coverage import compute_coverage as engine
from valuation.coverage.compare import AFTER, BEFORE, changed, loans_side_by_side, totals_side_by_side
from valuation.coverage.shocks import RegionShock, value_shocks
from valuation.coverage_schemas import (
    BucketComparison,
    CurrencyComparison,
    LoanComparison,
    ShockApplied,
    StressReport,
    StressScenario,
)
from valuation.services.coverage import figures, totals
from valuation.services.coverage_runs import params, parse_fx, with_base

LOWEST, HIGHEST = Decimal(-100), Decimal(1000)
PLACES = 6  # of a percentage: the multiplier then has eight, well inside the engine's twelve
_PERCENT = re.compile(r"^[+-]?[0-9]{1,4}(?:\.[0-9]{1,6})?$")
BREACH_FIRST = {"appears": 0, "clears": 1}


def multiplier(change_pct: str) -> Decimal:
    """ "-20" -> 0.8; ValueError with the reason for anything that is not a change within the bounds."""
    text = change_pct.strip()
    if not _PERCENT.match(text):
        raise ValueError(f'{change_pct!r} is not a percentage such as "-20" or "12.5" (at most {PLACES} decimals)')
    pct = Decimal(text)
    if not LOWEST <= pct <= HIGHEST:
        raise ValueError(f"a change must lie between {LOWEST}% and +{HIGHEST}%, not {text}%")
    return 1 + pct / 100


def _shocks(scenario: StressScenario) -> tuple[dict[str, Decimal], list[tuple[Any, Decimal]]]:
    """The scenario's multipliers by kind and (region geometry, multiplier) pairs; every bad field at once."""
    errors = FieldErrors()
    if not scenario.by_kind and not scenario.by_region:
        errors.add("by_kind", "a scenario needs at least one shock, by_kind or by_region")
    by_kind: dict[str, Decimal] = {}
    for i, shock in enumerate(scenario.by_kind):
        try:
            factor = multiplier(shock.change_pct)
        except ValueError as exc:
            errors.add(f"by_kind[{i}].change_pct", str(exc))
            continue
        if shock.kind in by_kind:
            errors.add(f"by_kind[{i}].kind", f"{shock.kind} is shocked twice: give one change per kind")
        by_kind[shock.kind] = factor
    regions: list[tuple[Any, Decimal]] = []
    for i, region_shock in enumerate(scenario.by_region):
        try:
            geometry = parse_region(region_shock.region, f"by_region[{i}].region")
        except InvalidInputError as exc:
            errors.errors.extend(exc.errors)
            geometry = None
        try:
            factor = multiplier(region_shock.change_pct)
        except ValueError as exc:
            errors.add(f"by_region[{i}].change_pct", str(exc))
            continue
        if geometry is not None:
            regions.append((geometry, factor))
    errors.raise_if_any()
    return by_kind, regions


def _ordered(loans: pl.LazyFrame) -> pl.LazyFrame:
    order = pl.col("breach_change").replace_strict(BREACH_FIRST, default=2, return_dtype=pl.Int8)
    return loans.sort(order, "loan_id")


async def run(scenario: StressScenario, paging: Paging) -> StressReport:
    """The scenario's effect on the committed book: portfolio and LTV buckets per currency, base and
    stressed, and the page asked for of the loans whose coverage changes (new breaches first)."""
    as_of = scenario.as_of or clock.today()
    by_kind, regions = _shocks(scenario)
    region_shocks = [
        RegionShock(await asset_ids_in_region(geometry, shock.kinds), factor)
        for (geometry, factor), shock in zip(regions, scenario.by_region, strict=True)
    ]
    coverage_params = params(as_of, scenario.include_unperfected, parse_fx(scenario.fx))

    def work(book: BookFrames, base: CoverageResult) -> dict[str, Any]:
        shocks = value_shocks(book.assets, by_kind, region_shocks).collect()
        stressed = engine(book, coverage_params, shocks.lazy())
        side = loans_side_by_side(base.per_loan, stressed.per_loan)
        moved = _ordered(side.filter(changed())).collect()
        kind_counts = dict(book.assets.group_by("kind").len().collect().iter_rows())
        return {
            "moved": moved,
            "page": moved.slice(paging.offset, paging.page_size)
            .select(
                "loan_id",
                "borrower_id",
                "currency",
                figures(BEFORE).alias("base"),
                figures(AFTER).alias("stressed"),
                "breach_change",
            )
            .to_dicts(),
            "portfolio": totals_side_by_side(base.portfolio, stressed.portfolio, ("currency",))
            .select("currency", totals(BEFORE).alias("base"), totals(AFTER).alias("stressed"))
            .collect()
            .to_dicts(),
            "buckets": totals_side_by_side(base.per_ltv_bucket, stressed.per_ltv_bucket, ("currency", "ltv_bucket"))
            .select("currency", "ltv_bucket", totals(BEFORE).alias("base"), totals(AFTER).alias("stressed"))
            .collect()
            .to_dicts(),
            "assets_shocked": shocks.height,
            "kind_counts": kind_counts,
        }

    found = await with_base(coverage_params, work)
    moved: pl.DataFrame = found["moved"]
    applied = [
        ShockApplied(shock=f"kind {kind}", multiplier=str(factor), assets=int(found["kind_counts"].get(kind, 0)))
        for kind, factor in by_kind.items()
    ]
    applied += [
        ShockApplied(
            shock=f"region {i}" + (f" ({shock.label})" if shock.label else ""),
            multiplier=str(factor),
            assets=len(region.asset_keys),
        )
        for i, (shock, region, (_, factor)) in enumerate(zip(scenario.by_region, region_shocks, regions, strict=True))
    ]
    return StressReport(
        as_of=as_of,
        include_unperfected=scenario.include_unperfected,
        shocks=applied,
        assets_shocked=found["assets_shocked"],
        portfolio=msgspec.convert(found["portfolio"], list[CurrencyComparison]),
        ltv_buckets=msgspec.convert(found["buckets"], list[BucketComparison]),
        loans_changed=moved.height,
        breaches_appearing=int((moved["breach_change"] == "appears").sum()),
        breaches_clearing=int((moved["breach_change"] == "clears").sum()),
        changed_loans=msgspec.convert(found["page"], list[LoanComparison]),
        page=paging.page,
        page_size=paging.page_size,
    )
