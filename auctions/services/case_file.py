"""Reading a case file: the lot, its appraisals, secured loans and exposure, rounds, offers, the allowed
moves and the next legal deadline."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

from auctions.rules.case_life import CaseFacts, CaseState, FailedRound, allowed_moves, private_sale_closes_on
from auctions.rules.pricing import in_lieu_price, private_sale_floor
from auctions.rules.profiles import Profile, profile
from auctions.schemas.cases import CaseLoanRead, CaseRead, CaseSummary, Deadline, LotAssetRead, OfferRead, RoundRead
from auctions.tables import AuctionRound, CaseAsset, CaseLoan, DisposalCase, RoundBidder, SaleOffer
from registry import clock
from registry.errors import NotFoundError
from registry.money import format_amount
from registry.services.ledger import balances_for

FAILED, SOLD, DEFAULTED = "failed", "sold", "defaulted"


async def case_row(ref: str) -> dict[str, Any]:
    row = (
        await DisposalCase.select(
            *DisposalCase.all_columns(),
            DisposalCase.owner.ref.as_alias("owner_ref"),
            DisposalCase.owner.name.as_alias("owner_name"),
        )
        .where(DisposalCase.ref == ref)
        .first()
    )
    if row is None:
        raise NotFoundError("disposal case", ref)
    return dict(row)


async def rounds_of(case_id: int) -> list[dict[str, Any]]:
    return list(await AuctionRound.select().where(AuctionRound.case == case_id).order_by(AuctionRound.number))


def failed_rounds(rounds: list[dict[str, Any]]) -> tuple[FailedRound, ...]:
    # A defaulted winner's round counts as failed for what comes next: the next round or the private sale.
    return tuple(
        FailedRound(r["number"], r["starting_price"], (r["closed_at"] or r["ends_at"]).date())
        for r in rounds
        if r["status"] in (FAILED, DEFAULTED)
    )


async def outstanding_of(case_id: int) -> dict[int, int]:
    loan_ids = [r["loan"] for r in await CaseLoan.select(CaseLoan.loan).where(CaseLoan.case == case_id)]
    return {i: sum(b.values()) for i, b in (await balances_for(loan_ids)).items()}


async def facts(case: dict[str, Any], rounds: list[dict[str, Any]] | None = None) -> CaseFacts:
    rounds = rounds if rounds is not None else await rounds_of(case["id"])
    return CaseFacts(
        state=CaseState(case["state"]),
        failed_rounds=failed_rounds(rounds),
        rounds_held=len(rounds),
        outstanding=sum((await outstanding_of(case["id"])).values()),
        private_sale_started_on=case["private_sale_started_on"],
        today=clock.today(),
    )


def allowed(case: dict[str, Any], case_facts: CaseFacts) -> list[str]:
    return allowed_moves(profile(case["profile"]), case_facts)


def round_status(row: dict[str, Any]) -> str:
    """A scheduled round is `bidding` between its start and its end; the stored status changes only on close."""
    if row["status"] == "scheduled" and row["starts_at"] <= clock.now() < row["ends_at"]:
        return "bidding"
    return str(row["status"])


def round_read(row: dict[str, Any], case_ref: str, currency: str, leader_alias: str | None = None) -> RoundRead:
    """Bidders know each other only by alias, so the leader is given as one, to everyone."""
    price = row["hammer_price"] if row["hammer_price"] is not None else row["current_price"]
    return RoundRead(
        round_id=row["id"],
        case_ref=case_ref,
        number=row["number"],
        status=round_status(row),
        starting_price=format_amount(row["starting_price"], currency),
        increment=format_amount(row["increment"], currency),
        deposit=format_amount(row["deposit"], currency),
        current_price=None if price is None else format_amount(price, currency),
        leader=leader_alias,
        notice_published_on=row["notice_published_on"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        closed_at=row["closed_at"],
        bid_count=row["bid_count"],
        balance_due_on=row["balance_due_on"],
        server_time=clock.now(),
    )


async def leader_aliases(round_ids: list[int]) -> dict[int, str]:
    if not round_ids:
        return {}
    rows = await RoundBidder.select(RoundBidder.round, RoundBidder.username, RoundBidder.alias).where(
        RoundBidder.round.is_in(round_ids)
    )
    by_key = {(r["round"], r["username"]): r["alias"] for r in rows}
    leaders = await AuctionRound.select(AuctionRound.id, AuctionRound.leader).where(AuctionRound.id.is_in(round_ids))
    return {r["id"]: by_key[(r["id"], r["leader"])] for r in leaders if (r["id"], r["leader"]) in by_key}


def _offer_read(row: dict[str, Any], currency: str) -> OfferRead:
    return OfferRead(
        id=row["id"],
        buyer=row["buyer"],
        price=format_amount(row["price"], currency),
        terms=row["terms"],
        document_ids=json.loads(row["document_ids"]),
        notice_published_on=row["notice_published_on"],
        status=row["status"],
        made_by=row["made_by"],
        made_at=row["made_at"],
        accepted_by=row["accepted_by"],
        accepted_at=row["accepted_at"],
    )


def next_deadline(prof: Profile, case: dict[str, Any], case_facts: CaseFacts) -> Deadline | None:
    """The next step the profile puts a date on (DESIGN 9: a round to schedule within 30 days of a failed one,
    a private-sale window closing)."""
    state = case_facts.state
    if state is CaseState.PRIVATE_SALE:
        closes = private_sale_closes_on(prof, case["private_sale_started_on"])
        return Deadline(what="the private-sale period closes", due_on=closes) if closes else None
    if state is CaseState.OPEN and case_facts.failed_rounds and prof.next_round_within_days is not None:
        last = case_facts.failed_rounds[-1]
        if prof.max_rounds is None or case_facts.rounds_held < prof.max_rounds:
            return Deadline(
                what=f"round {last.number + 1} must start",
                due_on=last.ended_on + timedelta(days=prof.next_round_within_days),
            )
    return None


async def read_case(ref: str) -> CaseRead:
    case = await case_row(ref)
    currency = case["currency"]
    prof = profile(case["profile"])

    def money(units: int) -> str:
        return format_amount(units, currency)

    asset_rows = (
        await CaseAsset.select(
            CaseAsset.asset.ref.as_alias("asset_ref"),
            CaseAsset.asset.kind.as_alias("kind"),
            CaseAsset.asset.description.as_alias("description"),
            CaseAsset.asset.status.as_alias("status"),
            CaseAsset.valuation,
            CaseAsset.appraisal,
            CaseAsset.valued_on,
        )
        .where(CaseAsset.case == case["id"])
        .order_by(CaseAsset.asset.ref)
    )
    loan_column: Any = CaseLoan.loan
    loan_rows = (
        await CaseLoan.select(
            CaseLoan.loan,
            CaseLoan.loan.ref.as_alias("loan_ref"),
            loan_column.borrower.ref.as_alias("borrower_ref"),
            CaseLoan.exposure_at_open,
        )
        .where(CaseLoan.case == case["id"])
        .order_by(CaseLoan.loan.ref)
    )
    outstanding = await outstanding_of(case["id"])
    rounds = await rounds_of(case["id"])
    aliases = await leader_aliases([r["id"] for r in rounds])
    offers = await SaleOffer.select().where(SaleOffer.case == case["id"]).order_by(SaleOffer.id)
    case_facts = await facts(case, rounds)
    floor = private_sale_floor(prof, case_facts.failed_rounds)
    lieu = in_lieu_price(case_facts.failed_rounds)
    return CaseRead(
        ref=case["ref"],
        profile=case["profile"],
        state=case["state"],
        owner_ref=case["owner_ref"],
        owner_name=case["owner_name"],
        currency=currency,
        appraisal=money(case["appraisal"]),
        exposure_at_open=money(case["exposure_at_open"]),
        outstanding=money(sum(outstanding.values())),
        assets=[
            LotAssetRead(
                asset_ref=a["asset_ref"],
                kind=a["kind"],
                description=a["description"],
                status=a["status"],
                valuation_id=a["valuation"],
                appraisal=money(a["appraisal"]),
                valued_on=a["valued_on"],
            )
            for a in asset_rows
        ],
        loans=[
            CaseLoanRead(
                loan_ref=r["loan_ref"],
                borrower_ref=r["borrower_ref"],
                exposure_at_open=money(r["exposure_at_open"]),
                outstanding=money(outstanding.get(r["loan"], 0)),
            )
            for r in loan_rows
        ],
        rounds=[round_read(r, ref, currency, aliases.get(r["id"])) for r in rounds],
        offers=[_offer_read(o, currency) for o in offers],
        allowed_moves=allowed_moves(prof, case_facts),
        next_deadline=next_deadline(prof, case, case_facts),
        private_sale_started_on=case["private_sale_started_on"],
        private_sale_floor=None if floor is None else money(floor),
        in_lieu_price=None if lieu is None else money(lieu),
        sale_kind=case["sale_kind"],
        sale_price=None if case["sale_price"] is None else money(case["sale_price"]),
        buyer=case["buyer"],
        sold_at=case["sold_at"],
        forfeited_deposits=money(case["forfeited_deposits"]),
        opened_by=case["opened_by"],
        opened_at=case["opened_at"],
        settled_at=case["settled_at"],
        closed_at=case["closed_at"],
        withdrawn_at=case["withdrawn_at"],
    )


async def asset_refs_of(case_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if case_ids:
        rows = (
            await CaseAsset.select(CaseAsset.case, CaseAsset.asset.ref.as_alias("asset_ref"))
            .where(CaseAsset.case.is_in(case_ids))
            .order_by(CaseAsset.asset.ref)
        )
        for r in rows:
            out[r["case"]].append(r["asset_ref"])
    return out


def summary(row: dict[str, Any], asset_refs: list[str]) -> CaseSummary:
    currency = row["currency"]
    return CaseSummary(
        ref=row["ref"],
        profile=row["profile"],
        state=row["state"],
        owner_ref=row["owner_ref"],
        currency=currency,
        appraisal=format_amount(row["appraisal"], currency),
        exposure_at_open=format_amount(row["exposure_at_open"], currency),
        asset_refs=asset_refs,
        opened_at=row["opened_at"],
        settled_at=row["settled_at"],
    )
