"""Auction rounds: scheduled against the profile's checks, closed once their end has passed.

Bidding itself comes with the live-bidding work; until then a round that ends with no accepted bid fails,
and the close runs idempotently on any read after the end, so a restart never loses or repeats it."""

from __future__ import annotations

from typing import Any

from auctions.rules.case_life import CaseState, RefusedCaseMove, check_move
from auctions.rules.pricing import RoundPlan, check_round
from auctions.rules.profiles import asset_class, profile
from auctions.schemas.cases import RoundCreate, RoundRead
from auctions.services import case_file
from auctions.services.cases import locked_case, refused
from auctions.services.closing import ENTITY, case_write, settle_due
from auctions.tables import AuctionRound, CaseAsset, DisposalCase
from registry import audit, clock
from registry.errors import FieldErrors, NotFoundError
from registry.services.common import check_amount


def _check_aware(errors: FieldErrors, data: RoundCreate) -> None:
    for field in ("starts_at", "ends_at"):
        if getattr(data, field).tzinfo is None:
            errors.add(field, "must carry a UTC offset")


async def schedule_round(case_ref: str, data: RoundCreate, actor: str) -> RoundRead:
    errors = FieldErrors()
    _check_aware(errors, data)
    errors.raise_if_any()
    async with case_write():
        case = await locked_case(case_ref)
        prof = profile(case["profile"])
        rounds = await case_file.rounds_of(case["id"])
        facts = await case_file.facts(case, rounds)
        try:
            check_move(prof, facts, "schedule_round")
        except RefusedCaseMove as exc:
            raise refused(exc) from None
        currency = case["currency"]
        amounts = {
            f: check_amount(errors, f, getattr(data, f), currency) for f in ("starting_price", "increment", "deposit")
        }
        errors.raise_if_any()
        kinds = {
            r["kind"]
            for r in await CaseAsset.select(CaseAsset.asset.kind.as_alias("kind")).where(CaseAsset.case == case["id"])
        }
        plan = RoundPlan(
            number=len(rounds) + 1,
            starting_price=amounts["starting_price"] or 0,
            increment=amounts["increment"] or 0,
            deposit=amounts["deposit"] or 0,
            notice_published_on=data.notice_published_on,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
        )
        last_failed = facts.failed_rounds[-1] if facts.failed_rounds else None
        for refusal in check_round(
            prof,
            plan,
            currency=currency,
            appraisal=case["appraisal"],
            lot_class=asset_class(kinds),
            last_failed=last_failed,
            now=clock.now(),
        ):
            errors.add(refusal.field, refusal.reason)
        errors.raise_if_any()
        row: dict[str, Any] = {
            "case": case["id"],
            "number": plan.number,
            "status": "scheduled",
            "starting_price": plan.starting_price,
            "increment": plan.increment,
            "deposit": plan.deposit,
            "notice_published_on": plan.notice_published_on,
            "starts_at": plan.starts_at,
            "ends_at": plan.ends_at,
            "created_by": actor,
            "created_at": clock.now(),
        }
        row["id"] = (await AuctionRound.insert(AuctionRound(**row)).returning(AuctionRound.id))[0]["id"]
        await DisposalCase.update({DisposalCase.state: CaseState.AUCTION.value}).where(DisposalCase.id == case["id"])
        await audit.record(
            actor,
            ENTITY,
            case_ref,
            "schedule_round",
            after={k: v for k, v in row.items() if k not in ("case", "created_by", "created_at")},
        )
    created = await AuctionRound.select().where(AuctionRound.id == row["id"]).first()
    assert created is not None
    return case_file.round_read(dict(created), case_ref, currency)


async def _round_case(round_id: int) -> dict[str, Any]:
    row = (
        await AuctionRound.select(AuctionRound.case.ref.as_alias("case_ref")).where(AuctionRound.id == round_id).first()
    )
    if row is None:
        raise NotFoundError("round", round_id)
    return dict(row)


async def get_round(round_id: int) -> RoundRead:
    case_ref = (await _round_case(round_id))["case_ref"]
    await settle_due(case_ref)
    case = await case_file.case_row(case_ref)
    row = await AuctionRound.select().where(AuctionRound.id == round_id).first()
    if row is None:
        raise NotFoundError("round", round_id)
    aliases = await case_file.leader_aliases([round_id])
    return case_file.round_read(dict(row), case_ref, case["currency"], aliases.get(round_id))
