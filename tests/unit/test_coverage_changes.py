"""Which audit events the coverage cache patches, and what they name (valuation.coverage_changes.seeds_of)."""

from __future__ import annotations

import json
from typing import Any

from valuation.coverage_changes import seeds_of


def event(entity: str, ref: str, action: str = "update", before: Any = None, after: Any = None) -> dict[str, Any]:
    dump = lambda v: None if v is None else json.dumps(v)  # noqa: E731 - as the audit chain stores them
    return {"entity": entity, "entity_ref": ref, "action": action, "before": dump(before), "after": dump(after)}


def test_loan_asset_lien_and_valuation_events_name_their_rows() -> None:
    seeds = seeds_of(
        [
            event("loan", "L1", "posting:repayment"),
            event("asset", "A1", "status"),
            event("lien", "M1", "registration:registered"),
            event("valuation", "42", "approve"),
            event("disposal", "C1", "bid"),
            event("user", "alice", "create"),
            event("party", "P1", "update"),
        ]
    )
    assert seeds is not None
    assert (seeds.loans, seeds.assets, seeds.liens, seeds.valuations) == ({"L1"}, {"A1"}, {"M1"}, {42})


def test_a_parcel_event_names_the_assets_whose_double_pledge_mark_moved() -> None:
    moved = event(
        "asset",
        "A1",
        "parcel_overlaps",
        before={"possible_double_pledge_with": ["A7"]},
        after={"possible_double_pledge_with": ["A8", "A9"]},
    )
    seeds = seeds_of([moved])
    assert seeds is not None and seeds.assets == {"A1", "A7", "A8", "A9"}


def test_book_wide_changes_ask_for_a_whole_read() -> None:
    for wide in (
        event("book", "abc", "import"),
        event("policy", "vehicle", "update"),
        event("valuation_upload", "f.csv", "upload"),
        event("parcel_overlap", "all", "rescan"),
        event("something_new", "x"),
    ):
        assert seeds_of([event("loan", "L1"), wide]) is None, wide["entity"]
