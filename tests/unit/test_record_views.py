"""The record pages' pure shaping: the lien's buttons follow the registration table, refusals read in plain
words, and an audit event's before and after line up field by field."""

from __future__ import annotations

import pytest

from frontend.record_forms import plain_words, read_posting
from frontend.record_views import diff_lines, may_renew, move_buttons, record_url
from registry.registration import ALLOWED_MOVES, RegistrationStatus


@pytest.mark.parametrize("status", list(RegistrationStatus))
def test_the_buttons_are_exactly_the_moves_the_table_allows(status: RegistrationStatus) -> None:
    assert [b.to for b in move_buttons(status.value)] == [s.value for s in ALLOWED_MOVES[status]]
    assert may_renew(status.value) is (status is RegistrationStatus.REGISTERED)


def test_registering_asks_for_the_number_and_the_dates() -> None:
    (register, reject) = move_buttons("submitted")
    assert register.to == "registered" and "registration_number" in register.asks and "perfected_at" in register.asks
    assert reject.danger and reject.asks == ("reason",)


def test_ledger_refusals_read_as_a_sentence_with_separators() -> None:
    assert plain_words("would take principal below zero (outstanding 1000000.00)") == (
        "more than the principal outstanding, which is 1,000,000.00"
    )
    assert plain_words("a write_off posting cannot carry fees") == "a write off does not move fees; leave it at 0"
    assert plain_words("something else") == "something else"


def test_amounts_with_thousands_separators_reach_the_service_without_them() -> None:
    form, data = read_posting({"kind": "repayment", "value_date": "2026-02-01", "principal": " 1,250,000.00 "})
    assert form.ok and data is not None
    assert data.principal == "1250000.00" and data.interest == "0"
    form, data = read_posting({"kind": "repayment", "value_date": "2026-02-01", "principal": "1,2,3"})
    assert data is not None and data.principal == "1,2,3"  # badly grouped: left for the service to refuse by name


def test_before_and_after_line_up_and_only_real_changes_are_marked() -> None:
    lines = diff_lines({"status": "draft", "cap": 100}, {"status": "submitted", "cap": 100, "memo": "x"})
    assert [(x.name, x.before, x.after, x.changed) for x in lines] == [
        ("status", "draft", "submitted", True),
        ("cap", "100", "100", False),
        ("memo", "", "x", True),
    ]
    created = diff_lines(None, {"ref": "L1", "loan_refs": ["A", "B"]})
    assert [(x.before, x.after, x.changed) for x in created] == [("", "L1", False), ("", '["A", "B"]', False)]
    assert diff_lines(None, None) == [diff_lines(None, None)[0]] and not diff_lines(None, None)[0].changed


def test_only_records_with_a_page_get_a_link() -> None:
    assert record_url("lien", "LN1") == "/liens/LN1"
    assert record_url("valuation", "12") is None
