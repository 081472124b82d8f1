"""A plain, slow reference for DESIGN section 5, the coverage engine's oracle in the tests.

Written straight from DESIGN 5 and the decisions that refine it (docs/decisions.md: LTV against the
reachable value, the lower of two same-day valuations, ties to the smaller ref), one asset, one rank, one
lien and one loan at a time, with Python integers. It shares no code with valuation/coverage: only the
frame contract (frames.py) and the refusal types (errors.py), so that a test can ask for the same refusal.
Speed is no aim: a few dozen rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from registry.money import minor_digits
from valuation.coverage.errors import CoverageInputError, MissingFxRates
from valuation.coverage.frames import SHOCKS, BookFrames, CoverageParams, conform

SCALE = 10**12  # ratios as integers: Decimal(38, 12) x 10^12
INT128_HEADROOM = 2**126
INT64_MAX = 2**63 - 1
COMPONENTS = ("principal", "interest", "penalty", "fees")
BUCKETS = ("<=50%", "50-70%", "70-90%", "90-100%", ">100%", "uncovered")

PER_LOAN_COLUMNS = {
    "loan_id": pl.String,
    "borrower_id": pl.String,
    "currency": pl.String,
    "exposure": pl.Int64,
    "collateral_value": pl.Int64,
    "covered": pl.Int64,
    "uncovered": pl.Int64,
    "reachable_value": pl.Int64,
    "coverage_ratio": pl.Float64,
    "ltv": pl.Float64,
    "max_ltv": pl.Float64,
    "breach": pl.Boolean,
    "stale_valuation": pl.Boolean,
    "no_valuation": pl.Boolean,
    "unperfected": pl.Boolean,
    "registration_expiring": pl.Boolean,
    "asset_seized": pl.Boolean,
    "possible_double_pledge": pl.Boolean,
    "ltv_bucket": pl.String,
    "loan_key": pl.Int64,
}
CONTRIBUTION_COLUMNS = {
    "loan_key": pl.Int64,
    "loan_id": pl.String,
    "borrower_id": pl.String,
    "currency": pl.String,
    "asset_id": pl.String,
    "kind": pl.String,
    "lien_id": pl.String,
    "holder": pl.String,
    "rank": pl.Int64,
    "value_currency": pl.String,
    "asset_value_after_haircut": pl.Int64,
    "prior_ranks_took": pl.Int64,
    "lien_claim": pl.Int64,
    "lien_share": pl.Int64,
    "lien_surplus": pl.Int64,
    "loan_share": pl.Int64,
    "loan_reach": pl.Int64,
    "stale_valuation": pl.Boolean,
    "no_valuation": pl.Boolean,
    "asset_seized": pl.Boolean,
    "possible_double_pledge": pl.Boolean,
    "registration_expiring": pl.Boolean,
}


class OutputOverflow(Exception):
    """An output amount does not fit Int64 (the engine's strict cast raises a Polars error)."""


def split(amount: int, weights: list[int], refs: list[str]) -> list[int]:
    """Largest remainder (DESIGN 7): floors of amount x weight / total, the units left one each to the
    largest remainders, ties to the smaller ref."""
    total = sum(weights)
    if total == 0:
        assert amount == 0
        return [0] * len(weights)
    parts = [amount * w // total for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), refs[i]))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def scaled(ratio: Decimal) -> int:
    return int(ratio * SCALE)


def rows(frame: pl.LazyFrame) -> list[dict[str, Any]]:
    return frame.collect().to_dicts()


def reference(
    book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per_loan, contributions) of DESIGN 5; raises the engine's refusal types, or OutputOverflow."""
    book = book.conformed()
    as_of = params.as_of

    # Step 1: exposure of every loan not settled or written off.
    loans = {r["loan_key"]: r for r in rows(book.loans) if r["status"] not in ("settled", "written_off", None)}
    exposure = {k: sum(r[c] or 0 for c in COMPONENTS) for k, r in loans.items()}

    # Step 2: each asset's latest approved valuation on or before as_of (the lower value on a tie), after
    # the haircut of its kind and any stress multiplier.
    policies = {r["kind"]: r for r in rows(book.policies)}
    multiplier: dict[int, Decimal] = {}
    for r in rows(conform(shocks, SHOCKS)) if shocks is not None else []:
        multiplier.setdefault(r["asset_key"], r["multiplier"])
    double = {r["asset_key"] for r in rows(book.double_pledge_assets)}
    approved: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows(book.valuations):
        if r["status"] == "approved" and r["valued_on"] is not None and r["valued_on"] <= as_of:
            approved[r["asset_key"]].append(r)
    assets: dict[int, dict[str, Any]] = {}
    for r in rows(book.assets):
        policy = policies.get(r["kind"])
        chosen = approved.get(r["asset_key"], [])
        valued_on = max((v["valued_on"] for v in chosen), default=None)
        that_day = [v for v in chosen if v["valued_on"] == valued_on and v["market_value"] is not None]
        lowest = min(that_day, key=lambda v: v["market_value"]) if that_day else None
        value = 0
        if lowest is not None and policy is not None:
            value = lowest["market_value"] * (SCALE - scaled(policy["haircut"])) // SCALE
            if r["asset_key"] in multiplier:
                value = value * scaled(multiplier[r["asset_key"]]) // SCALE
        reval = policy["revaluation_days"] if policy else None
        assets[r["asset_key"]] = {
            **r,
            "policy": policy,
            "value": value,
            "value_currency": lowest["currency"] if lowest else None,
            "max_ltv_scaled": scaled(policy["max_ltv"]) if policy else None,
            "stale_valuation": valued_on is not None and reval is not None and (as_of - valued_on).days > reval,
            "no_valuation": lowest is None,
            "asset_seized": r["status"] in ("seized", "in_disposal"),
            "possible_double_pledge": r["asset_key"] in double,
        }

    # Step 3: ranks over the live liens of each asset (registered ones by perfection time, equal times
    # sharing a rank; every other live lien one rank after them), then the counted ones.
    all_liens = rows(book.liens)
    live_liens = [r for r in all_liens if r["status"] not in ("released", "rejected", "expired")]
    counted_statuses = {"registered", "submitted"} if params.include_unperfected else {"registered"}
    links: dict[int, list[int]] = defaultdict(list)
    for r in rows(book.lien_loans):
        links[r["lien_key"]].append(r["loan_key"])
    counted = []
    for asset_key in sorted({r["asset_key"] for r in live_liens}):
        on_asset = [r for r in live_liens if r["asset_key"] == asset_key]
        times = sorted({r["perfected_at"] for r in on_asset if r["status"] == "registered" and r["perfected_at"]})
        for r in on_asset:
            timed = r["status"] == "registered" and r["perfected_at"] is not None
            rank = times.index(r["perfected_at"]) + 1 if timed else len(times) + 1
            if r["status"] in counted_statuses:
                counted.append({**r, "rank": rank, "own": r["holder"] == "own"})

    # Step 4: claims. Own: min(cap, exposure of its live loans); another creditor's: its external claim.
    for lien in counted:
        lien["loans"] = [k for k in links[lien["lien_key"]] if k in loans]
        secured = sum(exposure[k] for k in lien["loans"])
        if lien["own"]:
            lien["claim"] = secured if lien["cap"] is None else min(lien["cap"], secured)
        else:
            lien["claim"] = lien["external_claim"] or 0

    # The refusals, in the engine's order.
    no_policy = sorted(
        {str(assets[li["asset_key"]]["kind"]) for li in counted if not assets[li["asset_key"]]["policy"]}
    )
    if no_policy:
        raise CoverageInputError(f"no policy for asset kind(s) under counted liens: {', '.join(no_policy)}")
    mixed = [li for li in counted if li["own"] and any(loans[k]["currency"] != li["currency"] for k in li["loans"])]
    if mixed:
        raise CoverageInputError("own liens whose loans are not all in the lien's currency")
    factor: dict[tuple[str, str], Fraction] = {}
    missing = set()
    for lien in counted:
        pair = (assets[lien["asset_key"]]["value_currency"], lien["currency"])
        if pair[0] is not None and pair[0] != pair[1]:
            rate = (params.fx_rates or {}).get(pair)
            if rate is None:
                missing.add(pair)
            else:
                factor[pair] = Fraction(rate) * Fraction(10) ** (minor_digits(pair[1]) - minor_digits(pair[0]))
    if missing:
        raise MissingFxRates(missing)
    _check_bounds(counted, assets, exposure, factor)

    # Step 5: per asset, rank by rank, R = value; a rank takes min(R, its claims in the valuation
    # currency, rounded up), split among its liens pro rata to claim; what it leaves is split the same way.
    for lien in counted:
        f = factor.get((assets[lien["asset_key"]]["value_currency"], lien["currency"]), Fraction(1))
        lien["fx"] = f
        lien["claim_v"] = -(-lien["claim"] * f.denominator // f.numerator)
    for asset_key, asset in assets.items():
        remaining = asset["value"]
        for rank in sorted({li["rank"] for li in counted if li["asset_key"] == asset_key}):
            group = sorted((li for li in counted if li["asset_key"] == asset_key and li["rank"] == rank), key=_lien_id)
            rank_claim = sum(li["claim_v"] for li in group)
            takes = min(remaining, rank_claim)
            ahead = asset["value"] - remaining
            remaining -= takes
            weights, refs = [li["claim_v"] for li in group], [li["lien_id"] for li in group]
            shares = split(takes, weights, refs)
            left = split(remaining if rank_claim > 0 else 0, weights, refs)
            for lien, share, surplus in zip(group, shares, left, strict=True):
                lien.update(ahead=ahead, share_v=share, surplus_v=surplus)

    # Step 6: an own lien's share, back in its loans' currency (rounded down, within its claim), split
    # among its loans pro rata to exposure; so is what it could still reach, within its cap.
    contributions = []
    for lien in counted:
        if not lien["own"]:
            continue
        back: Fraction = lien["fx"]
        share = min(lien["share_v"] * back.numerator // back.denominator, lien["claim"])
        surplus = lien["surplus_v"] * back.numerator // back.denominator
        if lien["claim"] == 0:
            surplus = 0
        elif lien["cap"] is not None:
            surplus = min(surplus, lien["cap"] - share)
        keys = lien["loans"]
        weights, refs = [exposure[k] for k in keys], [loans[k]["loan_id"] for k in keys]
        asset = assets[lien["asset_key"]]
        expires = lien["expires_on"]
        for key, loan_share, loan_surplus in zip(
            keys, split(share, weights, refs), split(surplus, weights, refs), strict=True
        ):
            loan = loans[key]
            contributions.append(
                {
                    "loan_key": key,
                    "loan_id": loan["loan_id"],
                    "borrower_id": loan["borrower_id"],
                    "currency": loan["currency"],
                    "asset_id": asset["asset_id"],
                    "kind": asset["kind"],
                    "lien_id": lien["lien_id"],
                    "holder": lien["holder"],
                    "rank": lien["rank"],
                    "value_currency": asset["value_currency"],
                    "asset_value_after_haircut": asset["value"],
                    "prior_ranks_took": lien["ahead"],
                    "lien_claim": lien["claim_v"],
                    "lien_share": lien["share_v"],
                    "lien_surplus": lien["surplus_v"],
                    "loan_share": loan_share,
                    "loan_reach": loan_share + loan_surplus,
                    "stale_valuation": asset["stale_valuation"],
                    "no_valuation": asset["no_valuation"],
                    "asset_seized": asset["asset_seized"],
                    "possible_double_pledge": asset["possible_double_pledge"],
                    "registration_expiring": expires is not None
                    and expires <= as_of + timedelta(days=params.expiring_within_days),
                    "_limit": (loan_share + loan_surplus) * asset["max_ltv_scaled"],
                }
            )

    # Step 7: per loan.
    unperfected = {
        k
        for r in all_liens
        if r["holder"] == "own" and r["status"] not in ("registered", "released")
        for k in links[r["lien_key"]]
    }
    per_loan = []
    for key in sorted(loans):
        loan, ex = loans[key], exposure[key]
        mine = [c for c in contributions if c["loan_key"] == key]
        cv = sum(c["loan_share"] for c in mine)
        rv = sum(c["loan_reach"] for c in mine)
        limit = sum(c["_limit"] for c in mine)
        covered = min(ex, cv)
        per_loan.append(
            {
                "loan_id": loan["loan_id"],
                "borrower_id": loan["borrower_id"],
                "currency": loan["currency"],
                "exposure": ex,
                "collateral_value": cv,
                "covered": covered,
                "uncovered": ex - covered,
                "reachable_value": rv,
                "coverage_ratio": float(cv) / float(ex) if ex > 0 else None,
                # LTV and its limit against the reachable value (docs/decisions.md, "LTV against reachable value").
                "ltv": float(ex) / float(rv) if rv > 0 else None,
                "max_ltv": float(limit // rv) / SCALE if rv > 0 else None,
                "breach": ex > 0 and (rv == 0 or ex * SCALE > limit),
                **{f: any(c[f] for c in mine) for f in ("stale_valuation", "no_valuation")},
                "unperfected": key in unperfected,
                **{
                    f: any(c[f] for c in mine)
                    for f in ("registration_expiring", "asset_seized", "possible_double_pledge")
                },
                "ltv_bucket": _bucket(ex, rv),
                "loan_key": key,
            }
        )
    for row in [*per_loan, *contributions]:
        for name, value in row.items():
            if isinstance(value, int) and not isinstance(value, bool) and name != "_limit" and value > INT64_MAX:
                raise OutputOverflow(name)
    return (
        pl.DataFrame(per_loan, schema=PER_LOAN_COLUMNS, orient="row"),
        pl.DataFrame([{k: c[k] for k in CONTRIBUTION_COLUMNS} for c in contributions], schema=CONTRIBUTION_COLUMNS),
    )


def _lien_id(lien: dict[str, Any]) -> str:
    return str(lien["lien_id"])


def _bucket(exposure: int, reach: int) -> str:
    if reach == 0:
        return BUCKETS[5]
    ltv = Fraction(exposure, reach)
    for bound, name in zip((Fraction(1, 2), Fraction(7, 10), Fraction(9, 10), Fraction(1)), BUCKETS, strict=False):
        if ltv <= bound:
            return name
    return BUCKETS[4]


def _check_bounds(
    counted: list[dict[str, Any]],
    assets: dict[int, dict[str, Any]],
    exposure: dict[int, int],
    factor: dict[tuple[str, str], Fraction],
) -> None:
    """The engine's exact-arithmetic refusal: every Int128 product it may form is bounded by one of these
    (V largest counted asset value, C largest claim, E largest exposure, N/D largest fx numerator and
    denominator, M largest scaled max_ltv, n counted liens); any bound at 2^126 or more refuses the book."""
    v = max((assets[li["asset_key"]]["value"] for li in counted), default=0)
    c = max((li["claim"] for li in counted), default=0)
    e = max(exposure.values(), default=0)
    m = max((assets[li["asset_key"]]["max_ltv_scaled"] for li in counted), default=0)
    n_max = max((f.numerator for f in factor.values()), default=1)
    d_max = max((f.denominator for f in factor.values()), default=1)
    n = max(len(counted), 1)
    bounds = [n * c * d_max, v * c * d_max, v * n_max, (c + v * n_max) * e, n * (c + v * n_max) * m, e * SCALE]
    if any(bound >= INT128_HEADROOM for bound in bounds):
        raise CoverageInputError("amounts too large for exact arithmetic")
