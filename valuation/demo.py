"""The valuation side of the demo book: a policy per asset kind and appraisals of most assets, so that a
credit officer opening the demo sees real coverage (some valuations stale, some assets never valued).

Everything goes through the valuation services (submitted by the asset manager, approved by the admin:
four eyes), inside one transaction, and only into a demo book that has no policies yet."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from registry.db import write_transaction
from registry.demo.evidence import small_pdf
from registry.demo.plans import ANCHOR, DEFAULT_SEED
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import format_amount
from registry.roles import Role
from registry.services import documents, users
from registry.tables import AppUser, Asset, Lien, LienLoan, Posting
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


SECOND_MANAGER = "asset_manager_2"
SECOND_PASSWORD = "demo-asset_manager_2"
TROUBLED = ("non_performing", "overdue")  # loans whose collateral the demo values short, as a real book's NPLs
APPRAISERS = ("Shanghai Lianjia Appraisal", "Zhejiang Tianyuan Valuation", "CBRE Valuation Shanghai")
WAITING = 6  # revaluations submitted by one asset manager and left for the other to decide
REPORTS = 12  # appraisal reports attached to the asset as PDF documents


@dataclass(slots=True)
class Claims:
    """What stands on an asset: its own liens' currency, the balance of the loans they secure, other creditors'
    claims ranking beside them, and whether any of its loans is troubled or the asset already taken."""

    currency: str
    exposure: int = 0
    external: int = 0
    troubled: bool = False


async def _claims() -> dict[int, Claims]:
    links = await LienLoan.select(
        LienLoan.lien.asset.as_alias("asset"),
        LienLoan.lien.currency.as_alias("currency"),
        LienLoan.loan.as_alias("loan"),
        LienLoan.loan.status.as_alias("loan_status"),
    )
    balances: dict[int, int] = {}
    components = [getattr(Posting, c) for c in BALANCE_COMPONENTS]
    for row in await Posting.select(Posting.loan, *components):
        balances[row["loan"]] = balances.get(row["loan"], 0) + sum(row[c] for c in BALANCE_COMPONENTS)
    out: dict[int, Claims] = {}
    for link in links:
        claims = out.setdefault(link["asset"], Claims(link["currency"]))
        claims.exposure += max(balances.get(link["loan"], 0), 0)
        claims.troubled |= link["loan_status"] in TROUBLED
    others = await Lien.select(Lien.asset, Lien.external_claim).where(
        (Lien.holder != "own") & Lien.status.is_in(["registered", "submitted"])
    )
    for row in others:
        if row["asset"] in out:
            out[row["asset"]].external += row["external_claim"] or 0
    return out


def _market_value(rng: random.Random, kind: str, claims: Claims | None) -> tuple[str, int]:
    """A value that covers a performing loan with room to spare (its LTV under the policy's maximum after the
    haircut) and leaves a troubled one short, as in a bank's book: most loans covered, the breaches where the
    defaults are."""
    if claims is None or not claims.exposure:
        return "CNY", rng.randint(50_000, 5_000_000) * 100
    haircut, _days, max_ltv = POLICIES[kind]
    needed = (claims.exposure / (float(max_ltv) * (1 - float(haircut)))) + claims.external / (1 - float(haircut))
    factor = rng.uniform(0.45, 1.0) if claims.troubled else rng.uniform(1.12, 1.9)
    return claims.currency, int(needed * factor)


async def load_valuation_demo(seed: int = DEFAULT_SEED) -> str:
    if await Policy.count():
        return "Demo valuations not loaded: policies already exist."
    rng = random.Random(seed + 1)  # noqa: S311 - demo data, reproducible by seed
    async with write_transaction():
        if not await AppUser.exists().where(AppUser.username == SECOND_MANAGER):
            await users.create_user(SECOND_MANAGER, SECOND_PASSWORD, Role.ASSET_MANAGER, actor="demo-setup")
        for kind, (haircut, days, max_ltv) in POLICIES.items():
            await policies.put_policy(
                kind, PolicyWrite(haircut=haircut, revaluation_days=days, max_ltv=max_ltv), Role.ADMIN.value
            )
        claims = await _claims()
        assets = await Asset.select(Asset.id, Asset.ref, Asset.kind).order_by(Asset.ref)
        valued = stale = reports = 0
        latest: list[tuple[str, str, int]] = []
        for asset in assets:
            if rng.random() < 0.05:
                continue  # never appraised: the worklist and the no_valuation flag show it
            currency, value = _market_value(rng, asset["kind"], claims.get(asset["id"]))
            # Most appraisals are recent; a tail is past its revaluation period, which the worklist shows.
            age = rng.randint(10, 150) if rng.random() < 0.8 else rng.randint(150, 420)
            valued_on: date = ANCHOR - timedelta(days=age)
            stale += age > POLICIES[asset["kind"]][1]
            appraiser = rng.choice(APPRAISERS)
            submitted = await valuations.submit(
                ValuationSubmit(
                    asset_ref=asset["ref"],
                    valued_on=valued_on,
                    market_value=format_amount(value, currency),
                    currency=currency,
                    method=METHODS.get(asset["kind"], "desktop"),  # type: ignore[arg-type]
                    appraiser=appraiser,
                ),
                Role.ASSET_MANAGER.value,
            )
            # Four eyes: one asset manager submits, the other approves.
            await valuations.approve(submitted.id, SECOND_MANAGER)
            valued += 1
            latest.append((asset["ref"], currency, value))
            if asset["kind"] == "real_estate" and reports < REPORTS:
                await _attach_report(asset["ref"], appraiser, valued_on, format_amount(value, currency), currency)
                reports += 1
        for ref, currency, value in rng.sample(latest, min(WAITING, len(latest))):
            # A revaluation waiting for the second asset manager: the approval queue shows it.
            await valuations.submit(
                ValuationSubmit(
                    asset_ref=ref,
                    valued_on=ANCHOR - timedelta(days=rng.randint(1, 9)),
                    market_value=format_amount(int(value * rng.uniform(0.85, 1.1)), currency),
                    currency=currency,
                    method="desktop",
                    appraiser=rng.choice(APPRAISERS),
                ),
                Role.ASSET_MANAGER.value,
            )
    return (
        f"Demo valuations loaded: {len(POLICIES)} policies, {valued} approved valuations "
        f"({stale} past their revaluation period, {reports} with the appraisal report attached), "
        f"{min(WAITING, len(latest))} revaluations waiting for approval, {len(assets) - valued} assets never valued. "
        f"Second asset manager: {SECOND_MANAGER} / {SECOND_PASSWORD}."
    )


async def _attach_report(asset_ref: str, appraiser: str, valued_on: date, value: str, currency: str) -> None:
    pdf = small_pdf(
        "Real Estate Appraisal Report",
        [
            f"Asset: {asset_ref}",
            f"Appraiser: {appraiser}",
            f"Value date: {valued_on.isoformat()}",
            f"Market value: {currency} {value}",
            "Method: market comparison (three comparable sales within 1 km, adjusted for floor and age)",
        ],
    )
    await documents.upload(
        "asset",
        asset_ref,
        f"appraisal-report-{asset_ref}-{valued_on.isoformat()}.pdf",
        "application/pdf",
        pdf,
        Role.ASSET_MANAGER.value,
    )
