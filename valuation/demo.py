"""The valuation side of the demo book: a policy per asset kind and appraisals of most assets, so that a
credit officer opening the demo sees real coverage (some valuations stale, some assets never valued).

Everything goes through the valuation services (submitted by the asset manager, approved by the admin:
four eyes), inside one transaction, and only into a demo book that has no policies yet."""

from __future__ import annotations

import random
from datetime import date, timedelta

from registry.db import write_transaction
from registry.demo.plans import ANCHOR, DEFAULT_SEED
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import format_amount, minor_digits
from registry.roles import Role
from registry.tables import Asset, LienLoan, Posting
from valuation.schemas import PolicyWrite, ValuationSubmit
from valuation.services import policies, valuations
from valuation.tables import Policy

# haircut, revaluation days, max LTV: land and buildings hold value; stock and receivables less so.
POLICIES = {
    "real_estate": ("0.30", 365, "0.70"),
    "land_use_right": ("0.35", 365, "0.65"),
    "vehicle": ("0.50", 180, "0.50"),
    "equipment": ("0.50", 365, "0.50"),
    "inventory": ("0.60", 90, "0.40"),
    "receivable": ("0.40", 90, "0.60"),
    "deposit": ("0.05", 365, "0.95"),
    "equity": ("0.50", 90, "0.50"),
    "ip_right": ("0.70", 365, "0.30"),
}
METHODS = {
    "real_estate": "market_comparison",
    "land_use_right": "market_comparison",
    "receivable": "income",
    "equity": "income",
    "ip_right": "income",
}


async def _secured_exposure() -> dict[int, tuple[str, int]]:
    """Per asset: the currency of its own liens and the balance of the loans they secure."""
    links = await LienLoan.select(
        LienLoan.lien.asset.as_alias("asset"),
        LienLoan.lien.currency.as_alias("currency"),
        LienLoan.loan.as_alias("loan"),
    )
    balances: dict[int, int] = {}
    components = [getattr(Posting, c) for c in BALANCE_COMPONENTS]
    for row in await Posting.select(Posting.loan, *components):
        balances[row["loan"]] = balances.get(row["loan"], 0) + sum(row[c] for c in BALANCE_COMPONENTS)
    out: dict[int, tuple[str, int]] = {}
    for link in links:
        currency, total = out.get(link["asset"], (link["currency"], 0))
        out[link["asset"]] = (currency, total + max(balances.get(link["loan"], 0), 0))
    return out


async def load_valuation_demo(seed: int = DEFAULT_SEED) -> str:
    if await Policy.count():
        return "Demo valuations not loaded: policies already exist."
    rng = random.Random(seed + 1)  # noqa: S311 - demo data, reproducible by seed
    async with write_transaction():
        for kind, (haircut, days, max_ltv) in POLICIES.items():
            await policies.put_policy(
                kind, PolicyWrite(haircut=haircut, revaluation_days=days, max_ltv=max_ltv), Role.ADMIN.value
            )
        secured = await _secured_exposure()
        assets = await Asset.select(Asset.id, Asset.ref, Asset.kind).order_by(Asset.ref)
        valued = stale = 0
        for asset in assets:
            if rng.random() < 0.12:
                continue  # never appraised: the worklist and the no_valuation flag show it
            currency, exposure = secured.get(asset["id"], ("CNY", 0))
            base = exposure if exposure else rng.randint(50_000, 5_000_000) * 10 ** minor_digits(currency)
            value = int(base * rng.uniform(0.7, 2.4))
            age = rng.randint(10, 420)
            valued_on: date = ANCHOR - timedelta(days=age)
            stale += age > POLICIES[asset["kind"]][1]
            submitted = await valuations.submit(
                ValuationSubmit(
                    asset_ref=asset["ref"],
                    valued_on=valued_on,
                    market_value=format_amount(value, currency),
                    currency=currency,
                    method=METHODS.get(asset["kind"], "desktop"),  # type: ignore[arg-type]
                    appraiser=rng.choice(
                        ["Shanghai Lianjia Appraisal", "Zhejiang Tianyuan Valuation", "CBRE Valuation Shanghai"]
                    ),
                ),
                Role.ASSET_MANAGER.value,
            )
            await valuations.approve(submitted.id, Role.ADMIN.value)
            valued += 1
    return (
        f"Demo valuations loaded: {len(POLICIES)} policies, {valued} approved valuations "
        f"({stale} past their revaluation period), {len(assets) - valued} assets never valued."
    )
