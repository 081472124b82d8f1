"""What compute_coverage refuses before it produces a number: a counted lien on a kind without a policy,
an own lien whose loans are in another currency, and a book whose amounts could overflow Int128."""

from __future__ import annotations

import polars as pl

from valuation.coverage import fx
from valuation.coverage.constants import SCALE
from valuation.coverage.errors import CoverageInputError

HEADROOM = 2**126  # Int128 holds < 2^127; one bit spare for the sums taken after a product


def refuse_bad_liens(kinds_without_policy: pl.Series, mixed_lien_ids: pl.Series) -> None:
    """`kinds_without_policy`: the kind of each counted lien's asset that has no policy; `mixed_lien_ids`:
    the own counted liens some of whose live loans are in another currency than the lien's."""
    if len(kinds_without_policy):
        kinds = kinds_without_policy.unique().sort().to_list()
        raise CoverageInputError(f"no policy for asset kind(s) under counted liens: {', '.join(map(str, kinds))}")
    if len(mixed_lien_ids):
        mixed = mixed_lien_ids.sort()
        raise CoverageInputError(
            f"own liens whose loans are not all in the lien's currency: {', '.join(mixed.head(20).to_list())}"
            + (f" and {len(mixed) - 20} more" if len(mixed) > 20 else "")
        )


def check_bounds(v: int, c: int, e: int, m: int, count: int, factors: dict[fx.Pair, tuple[int, int]]) -> None:
    """Prove, for this book, that no Int128 product the engine forms overflows; refuse the book otherwise.

    Every product is bounded by one of these (v = largest counted asset value, c = largest claim, e =
    largest live exposure, N/D = largest fx numerator/denominator, m = largest scaled max_ltv under a
    counted lien, n = count, the number of counted liens):
    claim x D (claim into the valuation currency); the claim so converted is <= c x D, and a rank's or an
    asset's sum of them <= n x c x D; rank share or surplus x claim_v <= v x c x D (step 5 split); lien
    share or surplus x N <= v x N (back to the loan currency); (lien share + surplus) x exposure <=
    (c + v x N) x e (step 6, lien share <= claim); a loan's sum of reach x max_ltv <= n x (c + v x N) x m;
    exposure x 10^12 (breach test).
    Realistic books (values and claims below 10^15 minor units, rates with a few decimals) sit far inside.
    """
    n_max = max((f[0] for f in factors.values()), default=1)
    d_max = max((f[1] for f in factors.values()), default=1)
    n = max(count, 1)
    bounds = {
        "claims in the valuation currency": n * c * d_max,
        "rank split": v * c * d_max,
        "conversion to the loan currency": v * n_max,
        # A lien's surplus (beside its share) is at most the asset's value in the lien's currency.
        "split over loans": (c + v * n_max) * e,
        "max LTV weighting": n * (c + v * n_max) * m,
        "breach test": e * SCALE,
    }
    over = [name for name, bound in bounds.items() if bound >= HEADROOM]
    if over:
        raise CoverageInputError(f"amounts too large for exact arithmetic ({', '.join(over)})")
