"""Each profile rule row by row, on both sides of each limit (DESIGN section 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from auctions.rules.case_life import CaseFacts, CaseState, FailedRound, RefusedCaseMove, allowed_moves, check_move
from auctions.rules.pricing import RoundPlan, check_expenses, check_offer, check_round, in_lieu_price, show
from auctions.rules.profiles import AssetClass, asset_class, profile

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
JUDICIAL = profile("cn-judicial-online")
COMMERCIAL = profile("cn-commercial")
UCC = profile("us-ucc")


def plan(**over: object) -> RoundPlan:
    base: dict[str, object] = {
        "number": 1,
        "starting_price": 70_000_000,
        "increment": 100_000,
        "deposit": 7_000_000,
        "notice_published_on": date(2026, 5, 2),
        "starts_at": datetime(2026, 6, 2, 10, tzinfo=UTC),
        "ends_at": datetime(2026, 6, 3, 10, tzinfo=UTC),
    }
    base.update(over)
    return RoundPlan(**base)  # type: ignore[arg-type]


def refusals(p: RoundPlan, *, prof=JUDICIAL, cls=AssetClass.IMMOVABLE, last=None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = check_round(prof, p, currency="CNY", appraisal=100_000_000, lot_class=cls, last_failed=last, now=NOW)
    return {r.field: r.reason for r in found}


def test_show_groups_thousands() -> None:
    assert show(65_000_000, "CNY") == "650,000.00"
    assert show(-123, "CNY") == "-1.23"
    assert show(1_234_567, "JPY") == "1,234,567"


def test_a_valid_first_round_passes() -> None:
    assert refusals(plan()) == {}


def test_first_round_starting_price_at_and_below_seventy_percent() -> None:
    assert "starting_price" not in refusals(plan(starting_price=70_000_000, deposit=7_000_000))
    reason = refusals(plan(starting_price=69_999_999, deposit=7_000_000))["starting_price"]
    assert reason == ("starting price 699,999.99 is below 70% of the appraisal 1,000,000.00 (cn-judicial-online)")


def test_commercial_and_ucc_set_no_starting_floor() -> None:
    low = plan(starting_price=1_000, deposit=0)
    assert "starting_price" not in refusals(low, prof=COMMERCIAL)
    assert "starting_price" not in refusals(low, prof=UCC)


def test_next_round_cut_of_at_most_twenty_percent() -> None:
    last = FailedRound(number=1, starting_price=70_000_000, ended_on=date(2026, 5, 20))
    ok = plan(number=2, starting_price=56_000_000, deposit=5_600_000, notice_published_on=date(2026, 5, 18))
    assert refusals(ok, last=last) == {}
    low = plan(number=2, starting_price=55_999_999, deposit=5_600_000, notice_published_on=date(2026, 5, 18))
    assert refusals(low, last=last)["starting_price"] == (
        "starting price 559,999.99 is below 80% of round 1's starting price 700,000.00 (cn-judicial-online)"
    )


def test_next_round_within_thirty_days_of_the_failure() -> None:
    last = FailedRound(number=1, starting_price=70_000_000, ended_on=date(2026, 5, 3))
    on_day_30 = plan(
        number=2,
        starting_price=56_000_000,
        deposit=5_600_000,
        notice_published_on=date(2026, 5, 18),
        starts_at=datetime(2026, 6, 2, 10, tzinfo=UTC),
        ends_at=datetime(2026, 6, 3, 10, tzinfo=UTC),
    )
    assert "starts_at" not in refusals(on_day_30, last=last)
    on_day_31 = plan(
        number=2,
        starting_price=56_000_000,
        deposit=5_600_000,
        notice_published_on=date(2026, 5, 18),
        starts_at=datetime(2026, 6, 3, 10, tzinfo=UTC),
        ends_at=datetime(2026, 6, 4, 10, tzinfo=UTC),
    )
    assert "within 30 days" in refusals(on_day_31, last=last)["starts_at"]


@pytest.mark.parametrize(
    ("number", "cls", "days"),
    [
        (1, AssetClass.MOVABLE, 15),
        (1, AssetClass.IMMOVABLE, 30),
        (2, AssetClass.MOVABLE, 7),
        (2, AssetClass.IMMOVABLE, 15),
    ],
)
def test_notice_periods_by_round_and_class(number: int, cls: AssetClass, days: int) -> None:
    start = datetime(2026, 6, 2, 10, tzinfo=UTC)
    last = FailedRound(number=1, starting_price=70_000_000, ended_on=date(2026, 5, 20)) if number == 2 else None
    price = 70_000_000 if number == 1 else 56_000_000
    enough = plan(
        number=number,
        starting_price=price,
        deposit=price // 10,
        notice_published_on=start.date() - timedelta(days=days),
    )
    assert "notice_published_on" not in refusals(enough, cls=cls, last=last)
    short = plan(
        number=number,
        starting_price=price,
        deposit=price // 10,
        notice_published_on=start.date() - timedelta(days=days - 1),
    )
    assert f"needs {days} days' public notice" in refusals(short, cls=cls, last=last)["notice_published_on"]


def test_notice_cannot_be_in_the_future() -> None:
    assert "future" in refusals(plan(notice_published_on=date(2026, 6, 2)))["notice_published_on"]


def test_commercial_and_ucc_notice_periods() -> None:
    start = datetime(2026, 6, 2, 10, tzinfo=UTC)
    for prof, days in ((COMMERCIAL, 7), (UCC, 10)):
        ok = plan(notice_published_on=start.date() - timedelta(days=days))
        short = plan(notice_published_on=start.date() - timedelta(days=days - 1))
        assert "notice_published_on" not in refusals(ok, prof=prof)
        assert f"needs {days} days" in refusals(short, prof=prof)["notice_published_on"]


def test_deposit_band_five_to_twenty_percent() -> None:
    assert "deposit" not in refusals(plan(deposit=3_500_000))
    assert "deposit" not in refusals(plan(deposit=14_000_000))
    assert refusals(plan(deposit=3_499_999))["deposit"] == (
        "deposit 34,999.99 is outside 5% to 20% of the starting price 700,000.00 (cn-judicial-online)"
    )
    assert "outside 5% to 20%" in refusals(plan(deposit=14_000_001))["deposit"]
    assert "deposit" not in refusals(plan(deposit=0), prof=COMMERCIAL)


def test_bidding_window_at_least_twenty_four_hours() -> None:
    start = datetime(2026, 6, 2, 10, tzinfo=UTC)
    assert "ends_at" not in refusals(plan(starts_at=start, ends_at=start + timedelta(hours=24)))
    short = refusals(plan(starts_at=start, ends_at=start + timedelta(hours=23, minutes=59)))
    assert "at least 24 hours" in short["ends_at"]
    assert "ends_at" not in refusals(plan(starts_at=start, ends_at=start + timedelta(hours=1)), prof=COMMERCIAL)
    assert "after starts_at" in refusals(plan(starts_at=start, ends_at=start), prof=COMMERCIAL)["ends_at"]


def test_every_refusal_is_reported_at_once() -> None:
    bad = plan(starting_price=10, increment=0, deposit=0, notice_published_on=date(2026, 6, 1))
    assert set(refusals(bad)) == {"starting_price", "increment", "deposit", "notice_published_on"}


def test_asset_class_of_a_lot() -> None:
    assert asset_class({"vehicle", "equipment"}) is AssetClass.MOVABLE
    assert asset_class({"vehicle", "land_use_right"}) is AssetClass.IMMOVABLE


FAILED = (
    FailedRound(1, 70_000_000, date(2026, 3, 1)),
    FailedRound(2, 56_000_000, date(2026, 4, 1)),
)


def offer(
    prof=JUDICIAL,
    *,
    price=56_000_000,
    started=date(2026, 4, 5),
    today=date(2026, 5, 1),
    notice=date(2026, 4, 5),
    accepting=False,
    failed=FAILED,
):  # type: ignore[no-untyped-def]
    found = check_offer(
        prof,
        price=price,
        currency="CNY",
        failed=failed,
        private_sale_started_on=started,
        notice_published_on=notice,
        today=today,
        accepting=accepting,
    )
    return {r.field: r.reason for r in found}


def test_private_sale_floor_is_round_two_starting_price() -> None:
    assert offer(price=56_000_000) == {}
    assert offer(price=55_999_999)["price"] == (
        "price 559,999.99 is below round 2's starting price 560,000.00, the private-sale floor (cn-judicial-online)"
    )
    assert offer(COMMERCIAL, price=1, started=None) == {}


def test_private_sale_window_of_sixty_days() -> None:
    assert offer(today=date(2026, 6, 4)) == {}  # 2026-04-05 + 60 days
    assert "closed on 2026-06-04" in offer(today=date(2026, 6, 5))["price"]


def test_ucc_private_sale_needs_ten_days_notice_before_acceptance() -> None:
    assert offer(UCC, price=1, started=None, notice=date(2026, 4, 21), today=date(2026, 5, 1), accepting=True) == {}
    late = offer(UCC, price=1, started=None, notice=date(2026, 4, 22), today=date(2026, 5, 1), accepting=True)
    assert "needs 10 days" in late["notice_published_on"]
    assert offer(UCC, price=1, started=None, notice=date(2026, 4, 22), today=date(2026, 5, 1)) == {}


def test_in_lieu_at_the_last_failed_rounds_starting_price() -> None:
    assert in_lieu_price(FAILED) == 56_000_000
    assert in_lieu_price(()) is None


def test_commission_cap_of_five_percent_under_the_auction_law() -> None:
    ok = check_expenses(COMMERCIAL, gross=100_000_00, expenses=[("commission", 5_000_00)], currency="CNY")
    assert ok == []
    over = check_expenses(COMMERCIAL, gross=100_000_00, expenses=[("commission", 5_000_01)], currency="CNY")
    assert over[0].reason == "commission 5,000.01 is above 5% of the gross 100,000.00 (cn-commercial)"
    assert check_expenses(JUDICIAL, gross=100, expenses=[("commission", 100)], currency="CNY") == []
    bad = check_expenses(JUDICIAL, gross=100, expenses=[("bribe", 1), ("tax", -1)], currency="CNY")
    assert [r.field for r in bad] == ["expenses[0].kind", "expenses[1].amount"]


def facts(state: CaseState, *, failed=(), held=0, outstanding=100, started=None) -> CaseFacts:  # type: ignore[no-untyped-def]
    return CaseFacts(state, tuple(failed), held, outstanding, started, date(2026, 5, 1))


def test_case_moves_follow_the_table() -> None:
    assert allowed_moves(JUDICIAL, facts(CaseState.OPEN)) == ["schedule_round"]
    assert check_move(JUDICIAL, facts(CaseState.OPEN), "schedule_round") is CaseState.AUCTION
    with pytest.raises(RefusedCaseMove) as refused:
        check_move(JUDICIAL, facts(CaseState.SETTLED), "withdraw")
    assert refused.value.allowed == ["close"]
    assert "cannot withdraw" in str(refused.value)


def test_judicial_private_sale_only_after_two_failed_rounds() -> None:
    one = facts(CaseState.OPEN, failed=FAILED[:1], held=1)
    assert "start_private_sale" not in allowed_moves(JUDICIAL, one)
    with pytest.raises(RefusedCaseMove, match="after 2 failed rounds; 1 have failed"):
        check_move(JUDICIAL, one, "start_private_sale")
    two = facts(CaseState.OPEN, failed=FAILED, held=2)
    assert allowed_moves(JUDICIAL, two) == ["start_private_sale", "take_in_lieu"]
    assert "start_private_sale" in allowed_moves(UCC, facts(CaseState.OPEN))


def test_judicial_allows_two_rounds() -> None:
    with pytest.raises(RefusedCaseMove, match="allows 2 auction rounds and 2 were held"):
        check_move(JUDICIAL, facts(CaseState.OPEN, failed=FAILED, held=2), "schedule_round")
    assert "schedule_round" in allowed_moves(COMMERCIAL, facts(CaseState.OPEN, failed=FAILED, held=2))


def test_in_lieu_needs_a_failed_round_and_withdrawal_a_repaid_loan() -> None:
    with pytest.raises(RefusedCaseMove, match="no round has failed"):
        check_move(JUDICIAL, facts(CaseState.OPEN), "take_in_lieu")
    with pytest.raises(RefusedCaseMove, match="repaid"):
        check_move(JUDICIAL, facts(CaseState.OPEN), "withdraw")
    assert check_move(JUDICIAL, facts(CaseState.OPEN, outstanding=0), "withdraw") is CaseState.WITHDRAWN
    with pytest.raises(RefusedCaseMove, match="not a case move"):
        check_move(JUDICIAL, facts(CaseState.OPEN), "teleport")
