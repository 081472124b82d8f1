"""The disposal side of the demo book: a case in every state a disposal team meets, played out through the
services at the dates it would have happened (the clock is set back for each step and restored after), so
every page and the audit log show a real history: a case just opened, one whose round 1 failed, a private
sale with an offer waiting, a sale whose settlement awaits the second officer, a settled case with a
deficiency, and a lot taken in lieu.

Dates count back from the day the demo loads, so deadlines (the next round, the private-sale window) are
always ahead of whoever opens the demo."""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from auctions.schemas.bids import BidderRegister
from auctions.schemas.cases import CaseMoveRequest, CaseOpen, OfferCreate, RoundCreate
from auctions.schemas.settlement import ExpenseIn, SettlementProposal
from auctions.services import bidders, bids, cases, offers, rounds, settlement
from auctions.tables import DisposalCase
from registry import clock
from registry.db import write_transaction
from registry.money import format_amount
from registry.roles import Role
from registry.services import users
from registry.services.ledger import balances_for
from registry.tables import AppUser, Asset, Lien, LienLoan
from valuation.schemas import ValuationSubmit
from valuation.services import valuations
from valuation.tables import Valuation

OFFICER = Role.DISPOSAL_OFFICER.value
SECOND_OFFICER = "disposal_officer_2"
SECOND_PASSWORD = "demo-disposal_officer_2"
CANDIDATE_STATUSES = ("non_performing", "overdue")
LIVE_CASE = "DC-2026-007"
LIVE_FOR = timedelta(days=2)
# The demo's bidder (one per role) and two more, so two browser windows can bid against each other.
DEMO_BIDDERS = (Role.BIDDER.value, "bidder_2", "bidder_3")


async def _second_officer() -> None:
    if not await AppUser.exists().where(AppUser.username == SECOND_OFFICER):
        await users.create_user(SECOND_OFFICER, SECOND_PASSWORD, Role.DISPOSAL_OFFICER, actor="demo-setup")


async def _candidates(count: int) -> list[str]:
    """Immovable assets under a registered own lien securing a defaulted CNY loan with a balance, one per
    borrower, so that no two demo cases share a loan."""
    asset: Any = LienLoan.lien.asset
    rows = await LienLoan.select(
        asset.ref.as_alias("asset_ref"),
        asset.kind.as_alias("kind"),
        asset.status.as_alias("asset_status"),
        LienLoan.loan.ref.as_alias("loan_ref"),
        LienLoan.loan.borrower.as_alias("borrower"),
        LienLoan.loan.status.as_alias("loan_status"),
        LienLoan.loan.currency.as_alias("currency"),
    ).where((LienLoan.lien.status == "registered") & (LienLoan.lien.holder == "own"))
    multi_loan = {r["asset_ref"] for r in rows if sum(x["asset_ref"] == r["asset_ref"] for x in rows) > 1}
    picked: list[str] = []
    borrowers: set[int] = set()
    for r in sorted(rows, key=lambda r: (r["loan_status"] != "non_performing", r["asset_ref"])):
        if (
            r["kind"] in ("real_estate", "land_use_right")
            and r["asset_status"] == "active"
            and r["loan_status"] in CANDIDATE_STATUSES
            and r["currency"] == "CNY"
            and r["asset_ref"] not in multi_loan
            and r["borrower"] not in borrowers
            and r["asset_ref"] not in picked
        ):
            picked.append(r["asset_ref"])
            borrowers.add(r["borrower"])
        if len(picked) == count:
            break
    return picked


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _up(units: float, step: int = 100_00) -> int:
    """Prices as a court would set them: rounded up to whole hundreds."""
    return int(math.ceil(units / step) * step)


class Timeline:
    def __init__(self, today: date) -> None:
        self.today = today

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    async def on(self, offset: int, step: Callable[[], Coroutine[Any, Any, Any]], hour: int = 9) -> Any:
        clock.set_clock(lambda: _at(self.day(offset), hour))
        return await step()


async def _appraise(when: Timeline, offset: int, asset_ref: str) -> int:
    """A fresh approved appraisal a week before the case opens (a re-quote, as the rules ask)."""
    row = await Asset.select(Asset.id).where(Asset.ref == asset_ref).first()
    assert row is not None
    lien_ids = [r["id"] for r in await Lien.select(Lien.id).where(Lien.asset == row["id"])]
    loan_ids = [r["loan"] for r in await LienLoan.select(LienLoan.loan).where(LienLoan.lien.is_in(lien_ids))]
    exposure = sum(sum(b.values()) for b in (await balances_for(loan_ids)).values())
    valued_on = when.day(offset - 7)
    value = _up(max(exposure, 100_000_00) * 1.15)
    if not await Valuation.exists().where((Valuation.asset == row["id"]) & (Valuation.valued_on == valued_on)):
        submitted = await when.on(
            offset - 6,
            lambda: valuations.submit(
                ValuationSubmit(
                    asset_ref=asset_ref,
                    valued_on=valued_on,
                    market_value=format_amount(value, "CNY"),
                    currency="CNY",
                    method="market_comparison",
                    appraiser="Shanghai Lianjia Appraisal",
                ),
                Role.ASSET_MANAGER.value,
            ),
        )
        await when.on(offset - 5, lambda: valuations.approve(submitted.id, Role.ADMIN.value))
    return value


def _money(units: int) -> str:
    return format_amount(units, "CNY")


async def _open(when: Timeline, offset: int, ref: str, asset_ref: str, profile: str) -> int:
    appraisal = await _appraise(when, offset, asset_ref)
    await when.on(
        offset,
        lambda: cases.open_case(CaseOpen(ref=ref, asset_refs=[asset_ref], profile=profile), OFFICER),  # type: ignore[arg-type]
    )
    return appraisal


async def _failed_round(when: Timeline, ref: str, notice: int, start: int, price: int) -> None:
    body = RoundCreate(
        starting_price=_money(price),
        increment=_money(_up(price * 0.01, 1_000_00)),
        deposit=_money(_up(price * 0.10)),
        notice_published_on=when.day(notice),
        starts_at=_at(when.day(start), 10),
        ends_at=_at(when.day(start + 1), 10),
    )
    await when.on(notice, lambda: rounds.schedule_round(ref, body, OFFICER))
    # The day after the end, reading the case closes the round: nobody bid.
    await when.on(start + 2, lambda: cases.get_case(ref))


async def _move(when: Timeline, offset: int, ref: str, to: str) -> None:
    await when.on(offset, lambda: cases.move_case(ref, CaseMoveRequest(to=to), OFFICER))  # type: ignore[arg-type]


async def _offer(when: Timeline, offset: int, ref: str, buyer: str, price: int, notice: int) -> int:
    body = OfferCreate(
        buyer=buyer, price=_money(price), terms="full payment within 30 days", notice_published_on=when.day(notice)
    )
    case = await when.on(offset, lambda: offers.make_offer(ref, body, OFFICER))
    return int(case.offers[-1].id)


async def _sell(when: Timeline, ref: str, opened: int, buyer: str, price: int) -> None:
    await _move(when, opened + 1, ref, "start_private_sale")
    offer_id = await _offer(when, opened + 10, ref, buyer, price, notice=opened + 2)
    await when.on(opened + 15, lambda: offers.accept_offer(ref, offer_id, SECOND_OFFICER))


def _expenses(price: int) -> SettlementProposal:
    return SettlementProposal(
        expenses=[
            ExpenseIn(kind="commission", amount=_money(_up(price * 0.02, 1))),
            ExpenseIn(kind="court_fee", amount=_money(_up(price * 0.005, 1))),
        ]
    )


async def _exposure(ref: str) -> int:
    row = await DisposalCase.select(DisposalCase.exposure_at_open).where(DisposalCase.ref == ref).first()
    assert row is not None
    return int(row["exposure_at_open"])


async def load_disposal_demo() -> str:
    if await DisposalCase.count():
        return "Demo disposal cases not loaded: cases already exist."
    assets = await _candidates(7)
    if len(assets) < 7:
        return f"Demo disposal cases not loaded: only {len(assets)} defaulted immovable assets to dispose of."
    when = Timeline(clock.today())
    try:
        async with write_transaction():
            await _second_officer()
            await _open(when, -10, "DC-2026-001", assets[0], "cn-judicial-online")

            a = await _open(when, -60, "DC-2026-002", assets[1], "cn-judicial-online")
            await _failed_round(when, "DC-2026-002", notice=-59, start=-28, price=_up(a * 0.7))

            a = await _open(when, -100, "DC-2026-003", assets[2], "cn-judicial-online")
            first = _up(a * 0.7)
            await _failed_round(when, "DC-2026-003", notice=-99, start=-68, price=first)
            second = _up(first * 0.8)
            await _failed_round(when, "DC-2026-003", notice=-65, start=-50, price=second)
            await _move(when, -45, "DC-2026-003", "start_private_sale")
            await _offer(when, -5, "DC-2026-003", "Minhang Property Investment Co.", second, notice=-6)

            a = await _open(when, -40, "DC-2026-004", assets[3], "cn-commercial")
            price = _up(a * 0.78)
            await _sell(when, "DC-2026-004", -40, "Pudong Realty Partners", price)
            await when.on(-2, lambda: settlement.propose("DC-2026-004", _expenses(price), OFFICER))

            await _open(when, -150, "DC-2026-005", assets[4], "us-ucc")
            price = _up(await _exposure("DC-2026-005") * 0.8)  # below the debt: a deficiency remains
            await _sell(when, "DC-2026-005", -150, "Harbour Holdings Ltd", price)
            await when.on(-120, lambda: settlement.propose("DC-2026-005", _expenses(price), OFFICER))
            await when.on(-118, lambda: settlement.confirm("DC-2026-005", SECOND_OFFICER))

            a = await _open(when, -80, "DC-2026-006", assets[5], "cn-judicial-online")
            await _failed_round(when, "DC-2026-006", notice=-79, start=-48, price=_up(a * 0.7))
            await _move(when, -40, "DC-2026-006", "take_in_lieu")

            clock.set_clock(None)
            await _live_auction(when, assets[6])
    finally:
        clock.set_clock(None)
    return (
        "Demo disposal cases DC-2026-001 to DC-2026-007 loaded (open, round failed, private sale, awaiting "
        "settlement, settled, in lieu, and an auction bidding now until "
        f"{(clock.now() + LIVE_FOR).strftime('%Y-%m-%d %H:%M')} UTC); second disposal officer: "
        f"{SECOND_OFFICER} / {SECOND_PASSWORD}; demo bidders: "
        + ", ".join(f"{name} / demo-{name}" for name in DEMO_BIDDERS)
        + "."
    )


async def _live_auction(when: Timeline, asset_ref: str) -> None:
    """DC-2026-007: round 1 bidding from an hour before the demo loaded until two days after, with the demo
    bidders admitted and two opening bids, so a newcomer can bid from two browser windows at once."""
    now = clock.now()
    appraisal = await _open(when, -35, LIVE_CASE, asset_ref, "cn-judicial-online")
    clock.set_clock(None)
    price = _up(appraisal * 0.7)
    body = RoundCreate(
        starting_price=_money(price),
        increment=_money(_up(price * 0.01, 1_000_00)),
        deposit=_money(_up(price * 0.10)),
        notice_published_on=when.day(-31),
        starts_at=now - timedelta(hours=1),
        ends_at=now + LIVE_FOR,
    )
    created = await rounds.schedule_round(LIVE_CASE, body, OFFICER)
    for name in DEMO_BIDDERS:
        if not await AppUser.exists().where(AppUser.username == name):
            await users.create_user(name, f"demo-{name}", Role.BIDDER, actor="demo-setup")
        await bidders.register_bidder(
            created.round_id, BidderRegister(username=name, deposit_paid=body.deposit), OFFICER
        )
    step = _up(price * 0.01, 1_000_00)
    for name, amount in ((DEMO_BIDDERS[1], price), (DEMO_BIDDERS[2], price + step)):
        status, answer = await bids.place_bid(created.round_id, _money(amount), name, None)
        assert status == 201, answer
