"""The proceeds waterfall (DESIGN 7) on cases worked out by hand, and the input it refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auctions.rules.waterfall import (
    OWN,
    Expense,
    ExpensePaid,
    LienClaim,
    Line,
    LotAsset,
    WaterfallError,
    run_waterfall,
    split_lot,
)

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def own(ref: str, rank: int, loans: tuple[str, ...], cap: int | None = None) -> LienClaim:
    return LienClaim(ref, OWN, rank, cap, None, loans)


def other(ref: str, holder: str, rank: int, claim: int) -> LienClaim:
    return LienClaim(ref, holder, rank, None, claim, ())


def bal(principal: int = 0, interest: int = 0, penalty: int = 0, fees: int = 0) -> dict[str, int]:
    return {"principal": principal, "interest": interest, "penalty": penalty, "fees": fees}


def test_module_is_pure_in_a_fresh_interpreter() -> None:
    code = (
        "import sys, auctions.rules.waterfall\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('litestar', 'piccolo', 'polars'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hand_worked_lot_of_two_assets_with_a_shared_loan() -> None:
    balances = {
        "L1": bal(300_000, 20_000, 5_000, 1_000),  # 326_000, secured on both assets
        "L2": bal(100_000, 10_000),  # 110_000
        "L3": bal(20_000, 1_500, 300, 200),  # 22_000
        "L4": bal(40_000, 2_000),  # 42_000
        "L9": bal(7_000),  # no lien of the lot: reported in balances_after, never a deficiency here
    }
    a1 = LotAsset(
        "A1",
        2_000_000,
        (
            own("K2", 2, ("L4", "L2")),  # given out of order on purpose
            other("X1", "Bank of Z", 1, 200_000),
            own("K1", 2, ("L1",), cap=150_000),
        ),
    )
    a2 = LotAsset(
        "A2",
        1_000_000,
        (other("X2", "Credit Co", 3, 3_000), own("K4", 2, ("L2",), cap=5_000), own("K3", 1, ("L1", "L3"))),
    )
    expenses = [Expense("auction_fee", 30_001), Expense("appraisal", 9_000)]
    result = run_waterfall(760_001, expenses, [a2, a1], balances)

    # Lot split, weights 2:1 over 3:
    #   gross 760_001: A1 1_520_002/3 = 506_667 r1, A2 760_001/3 = 253_333 r2; one cent left -> A2 (r2 > r1)
    #     -> A1 506_667, A2 253_334.
    #   auction_fee 30_001: A1 60_002/3 = 20_000 r2, A2 30_001/3 = 10_000 r1; the cent -> A1 -> 20_001 / 10_000.
    #   appraisal 9_000: 6_000 / 3_000 exactly.
    assert split_lot(760_001, [a1, a2]) == {"A1": 506_667, "A2": 253_334}
    assert result.expenses_paid == (
        ExpensePaid("A1", "auction_fee", 20_001),
        ExpensePaid("A1", "appraisal", 6_000),
        ExpensePaid("A2", "auction_fee", 10_000),
        ExpensePaid("A2", "appraisal", 3_000),
    )
    # A1: net = 506_667 - 20_001 - 6_000 = 480_666.
    #   rank 1: X1 claims 200_000 -> paid 200_000; left 280_666.
    #   rank 2: K1 claims min(cap 150_000, L1 326_000) = 150_000 (the cap binds); K2 claims L2 + L4 = 152_000.
    #     A = min(280_666, 302_000) = 280_666.
    #     K1 280_666*150_000/302_000 = 139_403 r194_000; K2 280_666*152_000/302_000 = 141_262 r108_000;
    #     one cent left -> K1 -> K1 139_404, K2 141_262; left 0, so A1 has no surplus.
    #   K1 -> L1 139_404, fees first: fees 1_000, penalty 5_000, interest 20_000, principal 113_404.
    #     L1 left owing principal 186_596.
    #   K2 141_262 over L2 110_000 / L4 42_000 (of 152_000): L2 102_229 r12_000, L4 39_032 r140_000;
    #     the cent -> L4 -> L2 102_229, L4 39_033.
    #     L2: interest 10_000, principal 92_229 (left 7_771); L4: interest 2_000, principal 37_033 (left 2_967).
    # A2: net = 253_334 - 10_000 - 3_000 = 240_334; it sees L1 as A1 left it.
    #   rank 1: K3 claims L1 186_596 + L3 22_000 = 208_596 <= 240_334 -> both loans paid in full; left 31_738.
    #     L1: principal 186_596. L3: fees 200, penalty 300, interest 1_500, principal 20_000.
    #   rank 2: K4 claims min(cap 5_000, L2 7_771) = 5_000 (the cap binds) -> L2 principal 5_000; left 26_738.
    #   rank 3: X2 claims 3_000 -> paid; left 23_738 = A2's surplus.
    assert result.lines == (
        Line("A1", "X1", "Bank of Z", 1, None, None, 200_000),
        Line("A1", "K1", OWN, 2, "L1", "fees", 1_000),
        Line("A1", "K1", OWN, 2, "L1", "penalty", 5_000),
        Line("A1", "K1", OWN, 2, "L1", "interest", 20_000),
        Line("A1", "K1", OWN, 2, "L1", "principal", 113_404),
        Line("A1", "K2", OWN, 2, "L2", "interest", 10_000),
        Line("A1", "K2", OWN, 2, "L2", "principal", 92_229),
        Line("A1", "K2", OWN, 2, "L4", "interest", 2_000),
        Line("A1", "K2", OWN, 2, "L4", "principal", 37_033),
        Line("A2", "K3", OWN, 1, "L1", "principal", 186_596),
        Line("A2", "K3", OWN, 1, "L3", "fees", 200),
        Line("A2", "K3", OWN, 1, "L3", "penalty", 300),
        Line("A2", "K3", OWN, 1, "L3", "interest", 1_500),
        Line("A2", "K3", OWN, 1, "L3", "principal", 20_000),
        Line("A2", "K4", OWN, 2, "L2", "principal", 5_000),
        Line("A2", "X2", "Credit Co", 3, None, None, 3_000),
    )
    assert result.surplus_by_asset == {"A1": 0, "A2": 23_738}
    # Deficiency: L2 7_771 - 5_000 = 2_771, L4 2_967; L1 and L3 are paid off; L9 is not secured here.
    assert result.deficiency == {"L2": 2_771, "L4": 2_967}
    assert result.balances_after == {
        "L1": bal(),
        "L2": bal(2_771),
        "L3": bal(),
        "L4": bal(2_967),
        "L9": bal(7_000),
    }
    # 39_001 expenses + 697_262 to liens + 23_738 surplus = 760_001.
    assert (result.expenses_total, result.lines_total, result.surplus) == (39_001, 697_262, 23_738)
    assert result.paid_to_loan("L1") == 326_000
    assert result.paid_to_lien("K2") == 141_262
    assert result.deficiency_total == 5_738


@pytest.mark.parametrize(
    ("order", "gross", "paid"),
    [
        ("cn-civil-code", 450, {"fees": 100, "penalty": 200, "interest": 150}),
        ("cn-civil-code", 1_250, {"fees": 100, "penalty": 200, "interest": 300, "principal": 650}),
        ("principal-first", 450, {"principal": 450}),
        ("principal-first", 1_250, {"principal": 1_000, "interest": 250}),
        ("principal-first", 1_550, {"principal": 1_000, "interest": 300, "penalty": 200, "fees": 50}),
    ],
)
def test_component_orders_on_one_loan(order: str, gross: int, paid: dict[str, int]) -> None:
    asset = LotAsset("A", 1, (own("K", 1, ("L",)),))
    result = run_waterfall(gross, [], [asset], {"L": bal(1_000, 300, 200, 100)}, order)
    assert [(line.component, line.amount) for line in result.lines] == list(paid.items())
    assert result.surplus == 0


def test_default_order_is_the_civil_code() -> None:
    asset = LotAsset("A", 1, (own("K", 1, ("L",)),))
    result = run_waterfall(150, [], [asset], {"L": bal(1_000, 100, 0, 100)})
    assert [(line.component, line.amount) for line in result.lines] == [("fees", 100), ("interest", 50)]


def test_expenses_larger_than_the_gross_are_capped_and_nothing_else_is_paid() -> None:
    asset = LotAsset("A", 1, (other("X", "Bank of Z", 1, 500), own("K", 2, ("L",))))
    expenses = [Expense("auction", 700), Expense("storage", 500), Expense("legal", 100)]
    result = run_waterfall(1_000, expenses, [asset], {"L": bal(2_000, 10)})
    assert result.expenses_paid == (ExpensePaid("A", "auction", 700), ExpensePaid("A", "storage", 300))
    assert result.lines == ()
    assert result.surplus_by_asset == {"A": 0}
    assert result.deficiency == {"L": 2_010}


def test_expenses_larger_than_the_gross_of_a_two_asset_lot() -> None:
    # 1_000 and each expense split 1:1; each asset pays its expenses out of its own 500.
    assets = [LotAsset("B", 5, (own("K2", 1, ("L",)),)), LotAsset("A", 5, (own("K1", 1, ("L",)),))]
    result = run_waterfall(1_000, [Expense("auction", 800), Expense("storage", 400)], assets, {"L": bal(50)})
    assert result.expenses_paid == (
        ExpensePaid("A", "auction", 400),
        ExpensePaid("A", "storage", 100),
        ExpensePaid("B", "auction", 400),
        ExpensePaid("B", "storage", 100),
    )
    assert result.lines == ()
    assert result.surplus == 0


def test_equal_rank_liens_on_one_loan_share_it_and_pass_the_rest_down() -> None:
    # Both claim the whole 1_000 of L; it is asked for 2_000, so it gives 500 to each (pro rata to the
    # asks, not to whichever lien's name sorts first); the 1_000 not placed goes on: 1_500 to rank 2, 2_500 surplus.
    asset = LotAsset("A", 1, (own("K2", 1, ("L",)), own("K1", 1, ("L",)), other("X", "Bank of Z", 2, 1_500)))
    result = run_waterfall(5_000, [], [asset], {"L": bal(1_000)})
    assert result.lines == (
        Line("A", "K1", OWN, 1, "L", "principal", 500),
        Line("A", "K2", OWN, 1, "L", "principal", 500),
        Line("A", "X", "Bank of Z", 2, None, None, 1_500),
    )
    assert result.surplus == 2_500
    assert result.balances_after["L"] == bal()


def test_equal_rank_liens_sharing_a_loan_rerun_the_rank_with_fresh_claims() -> None:
    asset = LotAsset(
        "A",
        1,
        (own("K1", 1, ("L1",)), own("K2", 1, ("L1", "L2"), cap=600), other("X", "Bank of Z", 2, 1_000)),
    )
    result = run_waterfall(3_000, [], [asset], {"L1": bal(800), "L2": bal(300)})
    # Pass 1: K1 claims 800, K2 min(600, 1_100) = 600; left 3_000, so the rank takes 1_400: shares 800 / 600.
    #   K2's 600 over L1 800 / L2 300: 436 r400 / 163 r700 -> the cent to L2 -> 436 / 164.
    #   L1 is asked 800 + 436 = 1_236 but owes 800: 800 over 800:436 -> 517 r988 / 282 r248 -> K1 518, K2 282.
    #   L2 gets 164. Placed 964; 436 unplaced goes back: left 2_036.
    # Pass 2: K1 claims 0 (L1 paid); K2 min(600 - 446, L2 136) = 136 -> L2 136; left 1_900.
    # Pass 3: both claims 0: rank done. Rank 2: X 1_000; surplus 900.
    assert result.lines == (
        Line("A", "K1", OWN, 1, "L1", "principal", 518),
        Line("A", "K2", OWN, 1, "L1", "principal", 282),
        Line("A", "K2", OWN, 1, "L2", "principal", 300),
        Line("A", "X", "Bank of Z", 2, None, None, 1_000),
    )
    assert result.surplus == 900
    assert result.deficiency == {}
    assert result.paid_to_lien("K2") == 582


def test_another_creditors_lien_over_two_assets_is_paid_once() -> None:
    x = other("X", "Bank of Z", 1, 700)
    assets = [LotAsset("A", 1, (x,)), LotAsset("B", 1, (x,))]
    result = run_waterfall(1_000, [], assets, {})
    # A: 500 all to X (claim 700); B: X claims 700 - 500 = 200, surplus 300.
    assert [(line.asset_ref, line.amount) for line in result.lines] == [("A", 500), ("B", 200)]
    assert result.surplus_by_asset == {"A": 0, "B": 300}


def test_zero_appraisals_split_equally_and_ties_go_to_the_smaller_ref() -> None:
    assets = [LotAsset("B", 0, ()), LotAsset("A", 0, ()), LotAsset("C", 0, ())]
    assert split_lot(100, assets) == {"A": 34, "B": 33, "C": 33}
    assert run_waterfall(100, [], assets, {}).surplus_by_asset == {"A": 34, "B": 33, "C": 33}


def _asset(*liens: LienClaim, ref: str = "A") -> LotAsset:
    return LotAsset(ref, 1, liens)


@pytest.mark.parametrize(
    ("gross", "expenses", "assets", "balances", "order", "reason"),
    [
        (-1, [], [_asset()], {}, "cn-civil-code", "gross proceeds must not be negative"),
        (10, [Expense("auction", -1)], [_asset()], {}, "cn-civil-code", "expense 'auction' must not be negative"),
        (10, [], [_asset()], {}, "interest-first", "unknown component order"),
        (10, [], [_asset(own("K", 1, ("L1", "L2")))], {"L1": bal(5)}, "cn-civil-code", "without a balance: L2"),
        (10, [], [], {}, "cn-civil-code", "at least one asset"),
        (10, [], [_asset(), _asset()], {}, "cn-civil-code", "duplicate asset refs"),
        (10, [], [_asset(own("K", 1, ()), own("K", 2, ()))], {}, "cn-civil-code", "duplicate lien refs"),
        (10, [], [_asset(own("K", 1, ("L", "L")))], {"L": bal(1)}, "cn-civil-code", "names a loan twice"),
        (10, [], [_asset(own("K", 1, ("L",), cap=-1))], {"L": bal(1)}, "cn-civil-code", "negative cap"),
        (10, [], [_asset(own("K", 0, ()))], {}, "cn-civil-code", "ranks start at 1"),
        (10, [], [_asset(LienClaim("X", "Z", 1, None, None, ()))], {}, "cn-civil-code", "external claim"),
        (10, [], [_asset(LienClaim("X", "Z", 1, None, 5, ("L",)))], {"L": bal(1)}, "cn-civil-code", "our loans"),
        (10, [], [_asset()], {"L": bal(-1)}, "cn-civil-code", "negative outstanding"),
        (10, [], [_asset()], {"L": {"costs": 1}}, "cn-civil-code", "unknown components"),
        (10, [], [LotAsset("A", -1, ())], {}, "cn-civil-code", "negative appraisal"),
        (
            10,
            [],
            [_asset(other("X", "Z", 1, 5)), _asset(other("X", "Z", 1, 6), ref="B")],
            {},
            "cn-civil-code",
            "differs between the assets",
        ),
    ],
)
def test_bad_input_is_refused(
    gross: int,
    expenses: list[Expense],
    assets: list[LotAsset],
    balances: dict[str, dict[str, int]],
    order: str,
    reason: str,
) -> None:
    with pytest.raises(WaterfallError, match=reason):
        run_waterfall(gross, expenses, assets, balances, order)


def test_expense_cents_an_asset_cannot_cover_are_paid_from_the_rest_of_the_lot() -> None:
    # Two equal assets, gross 2, expenses 1 + 1: each expense's cent goes to A (ties to the smaller ref), which
    # has one cent of gross; B's cent pays the second expense instead of becoming surplus.
    assets = [LotAsset("A", 100, ()), LotAsset("B", 100, ())]
    result = run_waterfall(2, [Expense("commission", 1), Expense("tax", 1)], assets, {})
    assert result.expenses_paid == (ExpensePaid("A", "commission", 1), ExpensePaid("B", "tax", 1))
    assert result.surplus_by_asset == {"A": 0, "B": 0}
