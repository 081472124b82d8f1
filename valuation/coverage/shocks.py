"""Stress scenarios as value multipliers per asset (DESIGN 5: shocks by asset kind, by region, or both).

Which assets lie in a region is a geometry question answered elsewhere (Shapely, on the parcels); here
a region is the set of asset keys it holds, so the engine stays pure. Shocks that meet on one asset
multiply: a 20% fall for real estate and a 10% fall in a flooded district leave 0.8 x 0.9 = 0.72.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from valuation.coverage.errors import CoverageInputError
from valuation.coverage.frames import KEY, RATIO

MAX_MULTIPLIER = Decimal(11)  # +1000%; keeps value x multiplier inside the engine's headroom proof


@dataclass(frozen=True, slots=True)
class RegionShock:
    asset_keys: Collection[int]  # the assets whose parcels lie in the region
    multiplier: Decimal
    kinds: Collection[str] | None = None  # only these kinds in the region; None = every kind


def _check(multiplier: Decimal, what: str) -> Decimal:
    if not isinstance(multiplier, Decimal) or not Decimal(0) <= multiplier <= MAX_MULTIPLIER:
        raise CoverageInputError(f"shock multiplier for {what} must be a Decimal in [0, {MAX_MULTIPLIER}]")
    return multiplier


def value_shocks(
    assets: pl.LazyFrame,
    by_kind: Mapping[str, Decimal] | None = None,
    regions: Sequence[RegionShock] = (),
) -> pl.LazyFrame:
    """asset_key -> multiplier for every asset some shock touches (the rest keep their value)."""
    multiplier = pl.lit(Decimal(1), RATIO)
    touched = pl.lit(False)
    for kind, factor in (by_kind or {}).items():
        hit = pl.col("kind") == kind
        shocked = (multiplier * pl.lit(_check(factor, kind), RATIO)).cast(RATIO)
        multiplier = pl.when(hit).then(shocked).otherwise(multiplier)
        touched = touched | hit
    for number, region in enumerate(regions):
        hit = pl.col("asset_key").is_in(pl.Series(list(region.asset_keys), dtype=KEY).implode())
        if region.kinds is not None:
            hit = hit & pl.col("kind").is_in(pl.Series(sorted(region.kinds), dtype=pl.String).implode())
        shocked = (multiplier * pl.lit(_check(region.multiplier, f"region {number}"), RATIO)).cast(RATIO)
        multiplier = pl.when(hit).then(shocked).otherwise(multiplier)
        touched = touched | hit
    # Each product is cast back to 12 decimal places, rounding toward zero: never a rosier value.
    return assets.filter(touched).select("asset_key", multiplier.cast(RATIO).alias("multiplier"))
