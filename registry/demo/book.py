"""The demo book as plain data: parties, loans with their ledgers, assets, liens and evidence files.

Pure (no Piccolo, no Litestar) and deterministic for a seed: every random draw comes from one
`random.Random(seed)` in a fixed order, and every date is relative to ANCHOR rather than today, so
the same seed always plans the same book. registry.demo.loader loads the plan through the services.

This module plans the parties and their loans and puts the book together; the plan dataclasses are in
registry.demo.plans, collateral in registry.demo.pledges (drawing on the catalogue, places and
identifiers modules) and evidence files in registry.demo.evidence.

Amounts are integer minor units of the loan's or lien's currency.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta

from registry.demo.evidence import plan_documents
from registry.demo.identifiers import (
    CO_CITY,
    CO_FORM,
    CO_TRADE,
    CO_TRADE_LINE,
    GIVEN_NAMES,
    ID_REGIONS,
    SURNAMES,
    credit_code,
    resident_id,
)
from registry.demo.plans import (
    ANCHOR,
    DEFAULT_SEED,
    FOREIGN_LOANS,
    N_BORROWERS,
    N_COMPANIES,
    N_LOANS,
    N_PARTIES,
    AssetPlan,
    DemoBook,
    DocumentPlan,
    LienPlan,
    LoanPlan,
    PartyPlan,
    PostingPlan,
    RegistrationStep,
    before_anchor,
    round_to,
)
from registry.demo.pledges import plan_collateral

__all__ = [
    "ANCHOR",
    "DEFAULT_SEED",
    "AssetPlan",
    "DemoBook",
    "DocumentPlan",
    "LienPlan",
    "LoanPlan",
    "PartyPlan",
    "PostingPlan",
    "RegistrationStep",
    "plan_book",
]


def _plan_parties(rng: random.Random) -> list[PartyPlan]:
    kinds = ["company"] * N_COMPANIES + ["individual"] * (N_PARTIES - N_COMPANIES)
    rng.shuffle(kinds)
    names: set[str] = set()
    parties = []
    for i, kind in enumerate(kinds, start=1):
        city = "Shanghai" if rng.random() < 0.6 else "Hangzhou"
        while True:
            if kind == "company":
                name = (
                    rng.choice(CO_CITY[city]) + rng.choice(CO_TRADE) + rng.choice(CO_TRADE_LINE) + rng.choice(CO_FORM)
                )
            else:
                name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
            if name not in names:
                names.add(name)
                break
        region = rng.choice(ID_REGIONS[city])
        id_number = credit_code(rng, region) if kind == "company" else resident_id(rng, region)
        parties.append(
            PartyPlan(
                ref=f"CUST-{i:04d}",
                name=name,
                kind=kind,
                # Older customer files predate identity capture; the registry must cope with gaps.
                id_number=None if rng.random() < 0.12 else id_number,
                status="normal",
                city=city,
                standing=rng.choices(["good", "watch", "bad"], weights=[58, 17, 25])[0],
            )
        )
    # Insolvency and the court's list of judgment defaulters hit the weakest borrowers.
    bad = [p for p in parties[:N_BORROWERS] if p.standing == "bad"]
    for p in [q for q in bad if q.kind == "company"][:4]:
        p.status = "bankrupt"
    for p in bad[-3:]:
        if p.status == "normal":
            p.status = "blacklisted"
    return parties


_STATUS_BY_STANDING = {
    "good": (["performing", "settled", "restructured"], [72, 25, 3]),
    "watch": (["overdue", "restructured", "performing", "settled"], [40, 25, 25, 10]),
    "bad": (["non_performing", "written_off", "overdue", "restructured"], [58, 22, 12, 8]),
}
_CLASS_BY_STATUS = {
    "performing": (["pass", "special_mention"], [88, 12]),
    "overdue": (["special_mention", "substandard"], [65, 35]),
    "non_performing": (["substandard", "doubtful", "loss"], [40, 40, 20]),
    "restructured": (["special_mention", "substandard", "doubtful"], [30, 55, 15]),
    "settled": (["pass"], [1]),
    "written_off": (["loss"], [1]),
}
_AGE_DAYS = {  # how long ago each kind of loan was disbursed
    "performing": (45, 1500),
    "overdue": (300, 1500),
    "non_performing": (500, 2100),
    "restructured": (420, 1800),
    "settled": (400, 2200),
    "written_off": (900, 2400),
}
_RATES_BP = [345, 385, 395, 420, 435, 475, 520, 560, 610]


def _accrued(principal: int, rate_bp: int, days: int) -> int:
    return principal * rate_bp * days // (10_000 * 360)


def _plan_ledger(rng: random.Random, loan: LoanPlan, rate_bp: int) -> None:
    """Postings that leave the balance a loan of this status would carry on ANCHOR."""
    p, d0, status = loan.principal, loan.disbursed_on, loan.status
    out = loan.postings
    out.append(PostingPlan("disbursement", d0, principal=p, memo="drawdown under facility agreement"))
    age = (ANCHOR - d0).days
    if status in ("performing", "overdue") and age > 220:
        d1 = d0 + timedelta(days=180)
        i1 = _accrued(p, rate_bp, 180)
        repaid = round_to(p * rng.randint(5, 30) // 100, 100_00)
        out.append(PostingPlan("accrual", d1, interest=i1, memo="interest H1"))
        out.append(
            PostingPlan("repayment", d1 + timedelta(days=3), principal=repaid, interest=i1, memo="scheduled instalment")
        )
        p -= repaid
    if status == "performing":
        out.append(
            PostingPlan(
                "accrual", ANCHOR - timedelta(days=1), interest=_accrued(p, rate_bp, 30), memo="interest October"
            )
        )
    elif status == "overdue":
        interest = _accrued(p, rate_bp, rng.randint(60, 150))
        out.append(PostingPlan("accrual", ANCHOR - timedelta(days=30), interest=interest, memo="interest in arrears"))
        out.append(
            PostingPlan(
                "accrual",
                ANCHOR - timedelta(days=1),
                penalty=interest // 2,
                memo="default interest at 150% of the contract rate",
            )
        )
    elif status == "non_performing":
        interest = _accrued(p, rate_bp, rng.randint(270, 720))
        out.append(PostingPlan("accrual", ANCHOR - timedelta(days=60), interest=interest, memo="interest in arrears"))
        out.append(
            PostingPlan(
                "accrual",
                ANCHOR - timedelta(days=30),
                penalty=interest // 2,
                memo="default interest at 150% of the contract rate",
            )
        )
        fees = round_to(p // rng.randint(80, 300), 100)
        out.append(
            PostingPlan(
                "accrual", ANCHOR - timedelta(days=20), fees=fees, memo="court filing and preservation fees advanced"
            )
        )
        if rng.random() < 0.3:
            out.append(
                PostingPlan(
                    "repayment",
                    ANCHOR - timedelta(days=10),
                    interest=interest // 5,
                    memo="partial recovery from borrower's frozen account",
                )
            )
    elif status == "restructured":
        d1 = before_anchor(d0 + timedelta(days=rng.randint(300, age - 60)))
        interest = _accrued(p, rate_bp, rng.randint(120, 300))
        out.append(PostingPlan("accrual", d1 - timedelta(days=2), interest=interest, memo="interest in arrears"))
        out.append(PostingPlan("accrual", d1 - timedelta(days=1), penalty=interest // 2, memo="default interest"))
        out.append(
            PostingPlan(
                "capitalisation",
                d1,
                interest=interest,
                penalty=interest // 2,
                memo="arrears capitalised under restructuring agreement",
            )
        )
        out.append(
            PostingPlan(
                "accrual",
                ANCHOR - timedelta(days=1),
                interest=_accrued(p + interest + interest // 2, rate_bp, 30),
                memo="interest October",
            )
        )
    elif status == "settled":
        paid_on = before_anchor(d0 + timedelta(days=rng.randint(200, age - 20)))
        interest = _accrued(p, rate_bp, (paid_on - d0).days)
        out.append(PostingPlan("accrual", paid_on, interest=interest, memo="interest to settlement"))
        out.append(PostingPlan("repayment", paid_on, principal=p, interest=interest, memo="repaid in full"))
    elif status == "written_off":
        interest = _accrued(p, rate_bp, rng.randint(360, 900))
        fees = round_to(p // rng.randint(60, 200), 100)
        written_on = ANCHOR - timedelta(days=rng.randint(30, 300))
        out.append(
            PostingPlan(
                "accrual",
                written_on - timedelta(days=40),
                interest=interest,
                penalty=interest // 2,
                memo="interest and default interest in arrears",
            )
        )
        out.append(PostingPlan("accrual", written_on - timedelta(days=20), fees=fees, memo="enforcement costs"))
        out.append(
            PostingPlan(
                "write_off",
                written_on,
                principal=p,
                interest=interest,
                penalty=interest // 2,
                fees=fees,
                memo="written off with board approval; recovery continues",
            )
        )


def _add_reversal(rng: random.Random, loan: LoanPlan, kind: str) -> None:
    """A posting made in error and reversed: the ledger keeps both, the balance nets them out."""
    last_day = max(p.value_date for p in loan.postings)
    if kind == "fee":
        amount = round_to(loan.principal // rng.randint(400, 900), 100)
        loan.postings.append(
            PostingPlan(
                "accrual",
                last_day,
                fees=amount,
                memo="appraisal fee (duplicate entry)",
                reversal_memo="duplicate of the appraisal fee posted the same day",
            )
        )
    else:
        # Repays part of the principal so the mistaken posting is legal when made.
        amount = round_to(loan.principal // rng.randint(20, 60), 100)
        loan.postings.append(
            PostingPlan(
                "repayment",
                last_day,
                principal=amount,
                memo="repayment",
                reversal_memo="payment belonged to another customer's account",
            )
        )


def _plan_loans(rng: random.Random, parties: list[PartyPlan]) -> list[LoanPlan]:
    borrowers = parties[:N_BORROWERS]
    owners = list(borrowers)
    extra = N_LOANS - len(borrowers)
    owners += rng.choices(borrowers, weights=[4 if b.kind == "company" else 1 for b in borrowers], k=extra)
    rng.shuffle(owners)
    foreign = [c for c, n in FOREIGN_LOANS.items() for _ in range(n)]
    loans: list[LoanPlan] = []
    for seq, borrower in enumerate(owners, start=1):
        choices, weights = _STATUS_BY_STANDING[borrower.standing]
        status = rng.choices(choices, weights=weights)[0]
        classes, class_weights = _CLASS_BY_STATUS[status]
        lo, hi = _AGE_DAYS[status]
        disbursed = ANCHOR - timedelta(days=rng.randint(lo, hi))
        currency = "CNY"
        foreign_eligible = borrower.kind == "company" and status in ("performing", "overdue", "non_performing")
        if foreign and foreign_eligible and rng.random() < 0.08:
            currency = foreign.pop()
        # Log-uniform in units of 10,000: many small facilities, a few large ones.
        low, high = {"USD": (20, 500), "HKD": (100, 3000)}.get(
            currency, (100, 8000) if borrower.kind == "company" else (30, 600)
        )
        principal = int(math.exp(rng.uniform(math.log(low), math.log(high)))) * 10_000_00
        rate_bp = rng.choice(_RATES_BP)
        term_years = rng.choice([1, 2, 3, 5, 10] if borrower.kind == "individual" else [1, 2, 3, 5])
        maturity = disbursed + timedelta(days=365 * term_years)
        if status == "performing":
            while maturity <= ANCHOR:
                maturity += timedelta(days=365)
        loan = LoanPlan(
            ref=f"LN{disbursed.year}{seq:05d}",
            borrower_ref=borrower.ref,
            currency=currency,
            status=status,
            classification=rng.choices(classes, weights=class_weights)[0],
            interest_rate=f"0.{rate_bp:04d}",
            maturity=maturity,
            disbursed_on=disbursed,
            principal=principal,
        )
        _plan_ledger(rng, loan, rate_bp)
        loans.append(loan)
    reversible = [ln for ln in loans if ln.status in ("performing", "overdue", "non_performing")]
    for i, loan in enumerate(rng.sample(reversible, 8)):
        _add_reversal(rng, loan, "fee" if i % 2 else "repayment")
    return loans


def plan_book(seed: int = DEFAULT_SEED) -> DemoBook:
    rng = random.Random(seed)  # noqa: S311 - demo data, nothing secret; reproducibility is the point
    parties = _plan_parties(rng)
    loans = _plan_loans(rng, parties)
    assets, liens = plan_collateral(rng, parties, loans)
    _overlap_two_parcels(assets, liens)
    book = DemoBook(parties, loans, assets, liens, [])
    book.documents.extend(plan_documents(book))
    return book


def _overlap_two_parcels(assets: list[AssetPlan], liens: list[LienPlan]) -> None:
    """Two surveys of one plot, pledged by different owners: the second parcel is moved onto the first so that
    they overlap by about 40%, and the possible double pledge shows on the overlaps page, both assets and the
    coverage of their loans. The grid otherwise keeps every parcel apart."""
    pledged = {lien.asset_ref for lien in liens if lien.holder == "own" and lien.status == "registered"}
    mapped = [a for a in assets if a.geometry is not None and a.ref in pledged]
    for first in mapped:
        second = next((a for a in mapped if a.city == first.city and a.owner_ref != first.owner_ref), None)
        if second is None or second is first:
            continue
        ring = first.geometry["coordinates"][0]  # type: ignore[index]
        (w, s), (e, _), (_, n) = ring[0], ring[1], ring[2]
        shift = (e - w) * 0.6
        second.geometry = {
            "type": "Polygon",
            "coordinates": [[[w + shift, s], [e + shift, s], [e + shift, n], [w + shift, n], [w + shift, s]]],
        }
        return
