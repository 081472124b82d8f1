"""The appraisal a case is opened on: each asset's latest approved valuation, not stale under its kind's
policy on the day the case opens (DESIGN 6; 确定财产处置参考价规定 arts. 11, 19)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from registry.errors import FieldErrors
from valuation.tables import Policy, Valuation


@dataclass(frozen=True, slots=True)
class Appraisal:
    valuation_id: int
    amount: int
    currency: str
    valued_on: date


async def appraisals_for(
    assets: Sequence[tuple[int, str, str]], today: date, errors: FieldErrors
) -> dict[int, Appraisal]:
    """(asset id, ref, kind) → the appraisal; every asset without a usable one is named in `errors`."""
    ids = [a[0] for a in assets]
    rows = (
        await Valuation.select(
            Valuation.id, Valuation.asset, Valuation.market_value, Valuation.currency, Valuation.valued_on
        )
        .where(Valuation.asset.is_in(ids) & (Valuation.status == "approved") & (Valuation.valued_on <= today))
        .order_by(Valuation.valued_on, ascending=False)
        .order_by(Valuation.id, ascending=False)
    )
    latest: dict[int, Appraisal] = {}
    for r in rows:
        latest.setdefault(r["asset"], Appraisal(r["id"], r["market_value"], r["currency"], r["valued_on"]))
    policies = {p["kind"]: p["revaluation_days"] for p in await Policy.select(Policy.kind, Policy.revaluation_days)}
    out: dict[int, Appraisal] = {}
    for i, (asset_id, ref, kind) in enumerate(assets):
        field = f"asset_refs[{i}]"
        found = latest.get(asset_id)
        if found is None:
            errors.add(field, f"asset {ref} has no approved appraisal; a disposal starts from one")
            continue
        days = policies.get(kind)
        age = (today - found.valued_on).days
        if days is None:
            errors.add(field, f"no revaluation policy for {kind}, so the appraisal of {ref} cannot be judged current")
        elif age > days:
            errors.add(
                field,
                f"the appraisal of {ref} ({found.valued_on}) is stale: {age} days old, and {kind} is revalued "
                f"every {days} days",
            )
        else:
            out[asset_id] = found
    return out
