from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.registration import ALLOWED_MOVES, TERMINAL, RefusedMove, RegistrationStatus, move

pytestmark = pytest.mark.unit

S = RegistrationStatus
VALID_PATHS = {
    (S.DRAFT, S.SUBMITTED),
    (S.SUBMITTED, S.REGISTERED),
    (S.SUBMITTED, S.REJECTED),
    (S.REGISTERED, S.RELEASED),
    (S.REGISTERED, S.EXPIRED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_exactly_the_design_moves_are_allowed(current: S, target: S) -> None:
    if (current, target) in VALID_PATHS:
        assert move(current, target.value) is target
    else:
        with pytest.raises(RefusedMove) as refused:
            move(current, target.value)
        assert refused.value.current is current
        assert refused.value.allowed == [s.value for s in ALLOWED_MOVES[current]]


def test_refusal_names_current_state_and_allowed_moves() -> None:
    with pytest.raises(RefusedMove, match=r"'draft' cannot move to 'registered'; allowed: submitted"):
        move(S.DRAFT, "registered")
    with pytest.raises(RefusedMove, match="final state"):
        move(S.RELEASED, "registered")
    with pytest.raises(RefusedMove, match="'nonsense'"):
        move(S.DRAFT, "nonsense")


@given(st.lists(st.sampled_from([s.value for s in S] + ["bogus"]), max_size=20))
def test_any_sequence_of_requests_stays_on_the_machine(requests: list[str]) -> None:
    state = S.DRAFT
    visited = [state]
    for requested in requests:
        try:
            state = move(state, requested)
        except RefusedMove:
            continue
        visited.append(state)
    # Every step taken is an allowed edge; a terminal state is never left; no state is visited twice
    # (the machine has no cycles, so a lien cannot be re-registered after release).
    for a, b in itertools.pairwise(visited):
        assert (a, b) in VALID_PATHS
    assert len(set(visited)) == len(visited)
    if state in TERMINAL:
        assert ALLOWED_MOVES[state] == ()
