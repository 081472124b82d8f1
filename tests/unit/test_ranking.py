from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.ranking import RankInput, rank_liens
from registry.registration import TERMINAL, RegistrationStatus

pytestmark = pytest.mark.unit

S = RegistrationStatus
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_registered_rank_by_perfection_time_ties_share_unregistered_after_terminal_none() -> None:
    liens = [
        RankInput("late", S.REGISTERED, T0 + timedelta(days=3)),
        RankInput("first", S.REGISTERED, T0),
        RankInput("tie-a", S.REGISTERED, T0 + timedelta(days=1)),
        RankInput("tie-b", S.REGISTERED, T0 + timedelta(days=1)),
        RankInput("filed", S.SUBMITTED, None),
        RankInput("drafted", S.DRAFT, None),
        RankInput("gone", S.RELEASED, T0 - timedelta(days=9)),
        RankInput("lapsed", S.EXPIRED, T0 - timedelta(days=9)),
        RankInput("refused", S.REJECTED, None),
    ]
    assert rank_liens(liens) == {
        "first": 1,
        "tie-a": 2,
        "tie-b": 2,
        "late": 3,
        "filed": 4,
        "drafted": 4,
        "gone": None,
        "lapsed": None,
        "refused": None,
    }


def test_a_released_earlier_lien_does_not_hold_a_rank_open() -> None:
    liens = [RankInput("old", S.RELEASED, T0), RankInput("new", S.REGISTERED, T0 + timedelta(days=1))]
    assert rank_liens(liens)["new"] == 1


lien_strategy = st.builds(
    lambda i, status, day: RankInput(f"L{i:03d}", status, T0 + timedelta(days=day) if status is not S.DRAFT else None),
    st.integers(0, 999),
    st.sampled_from(list(S)),
    st.integers(0, 5),
)


@given(st.lists(lien_strategy, max_size=25, unique_by=lambda lien: lien.ref))
def test_ranking_properties(liens: list[RankInput]) -> None:
    ranks = rank_liens(liens)
    registered = [lien for lien in liens if lien.status is S.REGISTERED]
    pending = [lien for lien in liens if lien.status not in TERMINAL and lien.status is not S.REGISTERED]
    for lien in liens:
        if lien.status in TERMINAL:
            assert ranks[lien.ref] is None
    for a in registered:
        for b in registered:
            # Earlier perfection never ranks behind; equal times share a rank.
            if a.perfected_at < b.perfected_at:
                assert ranks[a.ref] < ranks[b.ref]
            if a.perfected_at == b.perfected_at:
                assert ranks[a.ref] == ranks[b.ref]
    # Ranks are dense from 1, and every pending lien shares the one rank after the registered ones.
    used = sorted({ranks[lien.ref] for lien in registered})
    assert used == list(range(1, len(used) + 1))
    for lien in pending:
        assert ranks[lien.ref] == len(used) + 1
