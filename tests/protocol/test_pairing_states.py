"""Pairing states: every transition in the table, every other one an error."""

import itertools

import pytest

from protocol.pairing_states import (
    FINAL,
    REFUSALS,
    TRANSITIONS,
    IllegalTransition,
    PairingEvent,
    PairingState,
    next_state,
)


def test_the_honest_path_and_a_retry() -> None:
    s = next_state(PairingState.OPEN, PairingEvent.CLAIM)
    s = next_state(s, PairingEvent.RELEASE)
    s = next_state(s, PairingEvent.CLAIM)
    assert next_state(s, PairingEvent.ACCEPT) is PairingState.USED


@pytest.mark.parametrize("state,event", list(itertools.product(PairingState, PairingEvent)))
def test_only_the_tables_transitions_are_allowed(state: PairingState, event: PairingEvent) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state.value, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition, match=str(state)):
            next_state(state, event)


def test_final_states_have_no_way_out_and_a_message_for_the_user() -> None:
    assert not [key for key in TRANSITIONS if key[0] in FINAL]
    assert all(state in REFUSALS for state in FINAL)
