"""Collateral for the demo loans: the assets a credit desk takes, the liens on them and their registration history."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from registry.demo.catalogue import ASSET_CODES, KIND_WEIGHTS, describe
from registry.demo.identifiers import registration_number
from registry.demo.places import CENTRES, ParcelGrid
from registry.demo.plans import (
    ANCHOR,
    CHINA_TZ,
    N_BORROWERS,
    AssetPlan,
    LienPlan,
    LoanPlan,
    PartyPlan,
    RegistrationStep,
    before_anchor,
    round_to,
)

# Registrations at the PBOC movables registry run for a chosen term and lapse unless renewed.
_TERM_REGISTERED = frozenset({"equipment", "inventory", "receivable"})
_OTHER_CREDITORS = [
    "China Construction Bank Shanghai Branch",
    "Industrial and Commercial Bank of China Hangzhou Branch",
    "Bank of Communications Shanghai Pudong Sub-branch",
    "Shanghai Pudong Development Bank",
    "China Merchants Bank Hangzhou Branch",
    "Agricultural Bank of China Shanghai Branch",
    "Bank of Hangzhou",
    "Ping An Bank Shanghai Branch",
    "Zhejiang Xinhu Financial Leasing Co.",
]
_CRC = "PBOC Credit Reference Center, Movables Financing Registry"


def _authority(asset: AssetPlan) -> str:
    city, district = asset.city, asset.district
    # Shanghai registers land and buildings per district, Hangzhou city-wide.
    land_registry = f"{city} {district if city == 'Shanghai' else 'Municipal'} Real Estate Registration Centre"
    return {
        "real_estate": land_registry,
        "land_use_right": land_registry,
        "vehicle": f"{city} Public Security Bureau, Vehicle Administration",
        "deposit": "Lending bank (perfected by account control)",
        "equity": f"{city} Administration for Market Regulation",
        "ip_right": "China National Intellectual Property Administration",
    }.get(asset.kind, _CRC)


def _stamp(rng: random.Random, day: date) -> datetime:
    day = before_anchor(day)
    local = datetime.combine(day, time(rng.randint(9, 16), rng.randint(0, 59), rng.randint(0, 59)), tzinfo=CHINA_TZ)
    return local.astimezone(UTC)


def _expiry(rng: random.Random, asset_kind: str, lien_kind: str, perfected: datetime, fate: str) -> date | None:
    if fate == "expired":
        lapsed = max(perfected.date() + timedelta(days=30), ANCHOR - timedelta(days=rng.randint(10, 240)))
        return min(lapsed, ANCHOR - timedelta(days=1))
    if rng.random() < 0.09:
        return ANCHOR + timedelta(days=rng.randint(5, 55))  # lapses soon: the early-warning case
    if asset_kind in _TERM_REGISTERED or lien_kind == "max_amount_mortgage":
        expiry = perfected.date() + timedelta(days=365 * rng.choice([3, 5]))
        while expiry <= ANCHOR + timedelta(days=60):
            expiry += timedelta(days=365)
        return expiry
    return None


def _steps(
    rng: random.Random, fate: str, asset: AssetPlan, lien_kind: str, perfected: datetime | None
) -> list[RegistrationStep]:
    if fate == "draft":
        return []
    steps = [RegistrationStep("submitted")]
    if fate == "rejected":
        return [
            *steps,
            RegistrationStep(
                "rejected",
                reason=rng.choice(
                    [
                        "certificate number on the application does not match the register",
                        "owner's consent to the mortgage not notarised",
                        "asset already sealed up by court order",
                    ]
                ),
            ),
        ]
    if fate == "submitted":
        return steps
    assert perfected is not None
    steps.append(
        RegistrationStep(
            "registered",
            registration_number=registration_number(rng, asset, perfected.year),
            perfected_at=perfected,
            expires_on=_expiry(rng, asset.kind, lien_kind, perfected, fate),
        )
    )
    if fate == "released":
        steps.append(RegistrationStep("released", reason="secured debt repaid in full"))
    elif fate == "expired":
        steps.append(RegistrationStep("expired", reason="registration term lapsed without renewal"))
    return steps


def _own_fate(rng: random.Random, loans: list[LoanPlan], asset_kind: str, added_later: bool) -> str:
    statuses = {ln.status for ln in loans}
    if statuses == {"settled"}:
        roll = rng.random()
        # A term registration nobody released after repayment simply lapses.
        if asset_kind in _TERM_REGISTERED and roll < 0.3:
            return "expired"
        return "released" if roll < 0.75 else "registered"
    recent = all((ANCHOR - ln.disbursed_on).days < 150 for ln in loans)
    roll = rng.random()
    if recent or added_later:
        # Most mortgages are registered before the money is paid out; a few are still being filed.
        return "draft" if roll < 0.1 else "submitted" if roll < 0.25 else "registered"
    if asset_kind in _TERM_REGISTERED and statuses & {"overdue", "non_performing", "written_off"} and roll < 0.4:
        return "expired"
    # Top-up collateral still being filed.
    return "draft" if roll > 0.95 else "submitted" if roll > 0.91 else "registered"


def _lien_kind(rng: random.Random, asset_kind: str) -> str:
    if asset_kind in ("real_estate", "land_use_right"):
        return rng.choices(["mortgage", "max_amount_mortgage"], weights=[65, 35])[0]
    if asset_kind in ("vehicle", "equipment"):
        return "mortgage"
    if asset_kind == "inventory":
        return rng.choice(["mortgage", "pledge"])
    return "pledge"


class _CollateralDesk:
    """Takes collateral for loans the way a credit desk would, recording assets and liens in order."""

    def __init__(self, rng: random.Random, parties: list[PartyPlan], loans: list[LoanPlan]) -> None:
        self.rng = rng
        self.third_parties = parties[N_BORROWERS:]
        self.loan = {ln.ref: ln for ln in loans}
        self.grids = {city: ParcelGrid(rng, city) for city in CENTRES}
        self.assets: list[AssetPlan] = []
        self.liens: list[LienPlan] = []
        self.kind_seq: dict[str, int] = defaultdict(int)

    def asset(self, borrower: PartyPlan, currency: str, *, umbrella: bool = False) -> AssetPlan:
        rng = self.rng
        # Third-party collateral: a guarantor's property, or the chairman's flat for the company's loan.
        owner = rng.choice(self.third_parties) if rng.random() < 0.2 else borrower
        if umbrella:
            weights = {"real_estate": 60, "land_use_right": 40} if owner.kind == "company" else {"real_estate": 1}
        else:
            weights = KIND_WEIGHTS["foreign" if currency != "CNY" else owner.kind]
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        district, description, address, identifiers, geometry = describe(rng, kind, owner, currency, self.grids)
        self.kind_seq[kind] += 1
        asset = AssetPlan(
            ref=f"{ASSET_CODES[kind]}-{self.kind_seq[kind]:04d}",
            kind=kind,
            owner_ref=owner.ref,
            city=owner.city,
            district=district,
            description=description,
            address=address,
            identifiers=identifiers,
            geometry=geometry,
        )
        self.assets.append(asset)
        return asset

    def _add(
        self,
        asset: AssetPlan,
        kind: str,
        currency: str,
        holder: str,
        loan_refs: list[str],
        cap: int | None,
        external_claim: int | None,
        steps: list[RegistrationStep],
    ) -> LienPlan:
        lien = LienPlan(
            ref=f"LIEN-{len(self.liens) + 1:05d}",
            asset_ref=asset.ref,
            kind=kind,
            currency=currency,
            holder=holder,
            loan_refs=loan_refs,
            cap=cap,
            external_claim=external_claim,
            authority=_authority(asset),
            steps=steps,
        )
        self.liens.append(lien)
        return lien

    def own_lien(
        self,
        asset: AssetPlan,
        loans: list[LoanPlan],
        *,
        umbrella: bool = False,
        added_later: bool = False,
        junior_to: LienPlan | None = None,
    ) -> LienPlan:
        rng = self.rng
        fate = _own_fate(rng, loans, asset.kind, added_later)
        kind = "max_amount_mortgage" if umbrella else _lien_kind(rng, asset.kind)
        refs = [ln.ref for ln in loans]
        cap = None
        if kind == "max_amount_mortgage" or (kind == "pledge" and rng.random() < 0.15):
            cap = round_to(int(sum(ln.principal for ln in loans) * rng.uniform(1.1, 1.5)), 10_000_00)
        if fate not in ("draft", "submitted") and rng.random() < 0.04:
            # The first filing was refused and filed again; the register keeps both.
            self._add(
                asset, kind, loans[0].currency, "own", refs, cap, None, _steps(rng, "rejected", asset, kind, None)
            )
        perfected = None
        if fate in ("registered", "released", "expired"):
            if (
                junior_to is not None
                and junior_to.status == fate == "registered"
                and junior_to.perfected_at
                and rng.random() < 0.3
            ):
                perfected = junior_to.perfected_at  # both filed in one batch: the register gives one time
            elif added_later:
                perfected = _stamp(rng, ANCHOR - timedelta(days=rng.randint(5, 120)))
            else:
                day = min(ln.disbursed_on for ln in loans) - timedelta(days=rng.randint(1, 12))
                if junior_to is not None and junior_to.perfected_at is not None:
                    day = max(day, junior_to.perfected_at.date() + timedelta(days=rng.randint(20, 200)))
                perfected = _stamp(rng, day)
        return self._add(
            asset, kind, loans[0].currency, "own", refs, cap, None, _steps(rng, fate, asset, kind, perfected)
        )

    def other_creditor_lien(self, asset: AssetPlan, ours: LienPlan) -> None:
        rng = self.rng
        roll = rng.random()
        fate = "registered" if roll < 0.78 else "submitted" if roll < 0.86 else "released" if roll < 0.95 else "expired"
        if fate == "expired" and asset.kind not in _TERM_REGISTERED:
            fate = "registered"
        perfected = None
        if fate != "submitted":
            if ours.status == fate == "registered" and ours.perfected_at and rng.random() < 0.28:
                perfected = ours.perfected_at  # pari passu with ours: equal times share a rank
            else:
                base = (
                    ours.perfected_at.date() if ours.perfected_at else ANCHOR - timedelta(days=rng.randint(200, 1000))
                )
                perfected = _stamp(rng, base + timedelta(days=rng.randint(-500, 400)))
        secured = sum(self.loan[r].principal for r in ours.loan_refs)
        claim = round_to(int(secured * rng.uniform(0.2, 1.2)), 10_000_00)
        kind = _lien_kind(rng, asset.kind)
        self._add(
            asset, kind, "CNY", rng.choice(_OTHER_CREDITORS), [], None, claim, _steps(rng, fate, asset, kind, perfected)
        )


def plan_collateral(
    rng: random.Random, parties: list[PartyPlan], loans: list[LoanPlan]
) -> tuple[list[AssetPlan], list[LienPlan]]:
    desk = _CollateralDesk(rng, parties, loans)
    by_borrower: dict[str, list[LoanPlan]] = defaultdict(list)
    for loan in loans:
        by_borrower[loan.borrower_ref].append(loan)
    for borrower in parties[:N_BORROWERS]:
        secured = [
            ln
            for ln in by_borrower[borrower.ref]
            # Unsecured credit: small consumer lines and the odd blue-chip working-capital loan.
            if not (
                ln.status in ("performing", "settled", "overdue")
                and rng.random() < (0.15 if borrower.kind == "individual" else 0.03)
            )
        ]
        taken: list[tuple[AssetPlan, LienPlan]] = []
        remaining = secured
        if len(secured) >= 2 and rng.random() < 0.5:
            group = [ln for ln in secured if ln.currency == secured[0].currency][: rng.randint(2, 3)]
            if len(group) >= 2:
                asset = desk.asset(borrower, group[0].currency, umbrella=True)
                taken.append((asset, desk.own_lien(asset, group, umbrella=True)))
                remaining = [ln for ln in secured if ln not in group or rng.random() < 0.3]
        for loan in remaining:
            asset = desk.asset(borrower, loan.currency)
            taken.append((asset, desk.own_lien(asset, [loan])))
            if rng.random() < 0.3:
                extra = desk.asset(borrower, loan.currency)
                desk.own_lien(extra, [loan], added_later=loan.status == "restructured")
        # A second-rank mortgage of ours behind our own first charge, for another of the borrower's loans.
        charges = [(a, lien) for a, lien in taken if a.kind in ("real_estate", "land_use_right")]
        if len(secured) >= 2 and charges and rng.random() < 0.45:
            asset, first = rng.choice(charges)
            others = [ln for ln in secured if ln.ref not in first.loan_refs and ln.currency == first.currency]
            if others:
                desk.own_lien(asset, [rng.choice(others)], junior_to=first)
    for asset in list(desk.assets):
        ours = next(lien for lien in desk.liens if lien.asset_ref == asset.ref and lien.holder == "own")
        if asset.kind in ("receivable", "deposit", "equity", "ip_right") or ours.currency != "CNY":
            continue
        roll = rng.random()
        for _ in range(2 if roll < 0.05 else 1 if roll < 0.3 else 0):
            desk.other_creditor_lien(asset, ours)
    _set_asset_statuses(rng, desk)
    return desk.assets, desk.liens


def _set_asset_statuses(rng: random.Random, desk: _CollateralDesk) -> None:
    own: dict[str, list[LienPlan]] = defaultdict(list)
    for lien in desk.liens:
        if lien.holder == "own":
            own[lien.asset_ref].append(lien)
    for asset in desk.assets:
        liens = own[asset.ref]
        statuses = {lien.status for lien in liens}
        loans = {desk.loan[r].status for lien in liens for r in lien.loan_refs}
        if "released" in statuses and statuses <= {"released", "rejected"}:
            if rng.random() < 0.6:
                asset.status = "released"
        elif loans <= {"non_performing", "written_off"} and "registered" in statuses:
            roll = rng.random()
            # Court seizure (查封) comes first; some of those assets are already out to auction.
            asset.status = "seized" if roll < 0.3 else "in_disposal" if roll < 0.5 else "active"
