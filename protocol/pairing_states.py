"""A pairing's life at the Relay: named states and the only transitions allowed, in one table.

             claim (proof ok)                accept (Node)
      OPEN ------------------> CLAIMED ---------------------> USED
       |  ^                      |  |  refuse (Node)
       |  +----- release --------+  +---------------------> REFUSED
       |   (Node offline, unpaid)   |  time_out (Node silent)
       |                            +---------------------> EXPIRED
       +-- lock (wrong proofs, or the Node counted too many code attempts) --> LOCKED
       +-- time_out ------------------------------------------------------> EXPIRED

USED, REFUSED, EXPIRED and LOCKED are final: a new pairing needs a new code. An event a state
has no row for is an IllegalTransition, never a silent overwrite (magic-wormhole style).
"""

from __future__ import annotations

from enum import StrEnum

from protocol.errors import ProtocolError


class PairingState(StrEnum):
    """Where a pairing is; the value is what the Relay's store keeps."""

    OPEN = "open"
    CLAIMED = "claimed"
    USED = "used"
    REFUSED = "refused"
    EXPIRED = "expired"
    LOCKED = "locked"


class PairingEvent(StrEnum):
    """What can happen to a pairing."""

    CLAIM = "claim"  # a device presented the right proof; the Node is asked
    RELEASE = "release"  # the Node could not be asked (offline, plan unpaid): usable again
    ACCEPT = "accept"  # the Node paired the device
    REFUSE = "refuse"  # the Node (or its owner) said no
    TIME_OUT = "time_out"  # the code's lifetime or the Node's decision time ran out
    LOCK = "lock"  # too many wrong attempts


class IllegalTransition(ProtocolError):
    """An event arrived in a state that has no transition for it."""


S, E = PairingState, PairingEvent
TRANSITIONS: dict[tuple[PairingState, PairingEvent], PairingState] = {
    (S.OPEN, E.CLAIM): S.CLAIMED,
    (S.OPEN, E.LOCK): S.LOCKED,
    (S.OPEN, E.TIME_OUT): S.EXPIRED,
    (S.CLAIMED, E.RELEASE): S.OPEN,
    (S.CLAIMED, E.ACCEPT): S.USED,
    (S.CLAIMED, E.REFUSE): S.REFUSED,
    (S.CLAIMED, E.TIME_OUT): S.EXPIRED,
}
FINAL = frozenset({S.USED, S.REFUSED, S.EXPIRED, S.LOCKED})


def next_state(state: PairingState | str, event: PairingEvent) -> PairingState:
    """The state `event` leads to from `state`, or IllegalTransition."""
    current = PairingState(state)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(f"a pairing that is {current} cannot {event}") from None


# Why a device was turned away, by state: what it should do next.
REFUSALS: dict[PairingState, str] = {
    S.CLAIMED: "this pairing code is being used right now: wait, or make a new one on your PC",
    S.USED: "this pairing code was already used: make a new one on your PC",
    S.REFUSED: "your PC refused this pairing: make a new code on your PC to try again",
    S.EXPIRED: "this pairing code has expired: make a new one on your PC",
    S.LOCKED: "this pairing is locked after too many wrong attempts: make a new code on your PC",
}
