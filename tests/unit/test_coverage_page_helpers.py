"""The coverage pages' plain-language explanation of a lien and their small formatting helpers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from frontend.coverage_pages import coverage_query, explain, fx_rates, percent
from registry.errors import InvalidInputError
from valuation.coverage_schemas import CoverageContribution

pytestmark = pytest.mark.unit


def _item(**changes: Any) -> CoverageContribution:
    fields: dict[str, Any] = {
        "asset_id": "A1",
        "kind": "real_estate",
        "lien_id": "M1",
        "holder": "own",
        "rank": 2,
        "value_currency": "CNY",
        "asset_value_after_haircut": "1000.00",
        "prior_ranks_took": "300.00",
        "lien_claim": "500.00",
        "lien_share": "500.00",
        "lien_surplus": "0.00",
        "loan_share": "200.00",
        "loan_reach": "200.00",
        "stale_valuation": False,
        "no_valuation": False,
        "asset_seized": False,
        "possible_double_pledge": False,
        "registration_expiring": False,
    }
    return CoverageContribution(**{**fields, **changes})


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({}, "lien M1's claim of 500.00 was met in full"),
        ({"lien_claim": "0.00", "lien_share": "0.00", "loan_share": "0.00"}, "claims nothing, since its loans owe"),
        (
            {"prior_ranks_took": "1000.00", "lien_share": "0.00", "loan_share": "0.00"},
            "nothing was left for lien M1's claim of 500.00",
        ),
        # 700.00 left, a 900.00 claim given 400.00: the rest went to other liens of rank 2.
        (
            {"lien_claim": "900.00", "lien_share": "400.00"},
            "shares what was left with other liens of rank 2, which gives it 400.00",
        ),
        # 700.00 left, all of it to a 900.00 claim: met only in part.
        ({"lien_claim": "900.00", "lien_share": "700.00"}, "was met only in part, with the 700.00 that was left"),
    ],
)
def test_each_way_a_claim_can_end_is_said(changes: dict[str, Any], says: str) -> None:
    sentence = explain(_item(**changes), "CNY")
    assert says in sentence
    assert sentence.startswith("A1 is worth 1,000.00 CNY after the haircut; earlier ranks took ")


def test_what_the_rank_leaves_free_is_said_only_when_the_loan_reaches_more() -> None:
    # 1,000.00 less 300.00 ahead less M1's 500.00 leaves 200.00 free; this loan reaches 80.00 of it.
    sentence = explain(_item(lien_surplus="200.00", loan_reach="280.00"), "CNY")
    assert sentence.endswith(
        "this loan's share of it is 200.00. The rank leaves 200.00 free, which the lien could also reach: "
        "LTV counts 280.00 for this loan."
    )
    assert "free" not in explain(_item(), "CNY")


def test_no_valuation_and_another_currency_are_said() -> None:
    sentence = explain(
        _item(
            no_valuation=True,
            asset_value_after_haircut="0.00",
            prior_ranks_took="0.00",
            lien_share="0.00",
            loan_share="0.00",
            loan_reach="0.00",
            value_currency="USD",
        ),
        "CNY",
    )
    assert sentence.startswith("A1 has no approved valuation, so it counts as 0.00 USD;")
    assert sentence.endswith("this loan's share of it is 0.00 CNY.")


def test_percent_query_and_rates() -> None:
    assert (percent("0.866244"), percent(None)) == ("86.62%", "—")
    assert coverage_query(date(2026, 6, 30), True, 3, "CNY/USD=0.14") == (
        "as_of=2026-06-30&include_unperfected=true&fx=CNY%2FUSD%3D0.14&page=3"
    )
    assert coverage_query(date(2026, 6, 30), False) == "as_of=2026-06-30"
    rates = fx_rates(" CNY/USD=0.14,HKD/CNY=0.92 ")
    assert {pair: str(rate) for pair, rate in rates.items()} == {("CNY", "USD"): "0.14", ("HKD", "CNY"): "0.92"}
    with pytest.raises(InvalidInputError):
        fx_rates("CNY/USD=0.14 CNY/USD=0.15")
