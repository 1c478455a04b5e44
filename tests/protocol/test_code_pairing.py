"""Typed-code pairing with SPAKE2: the code authenticates the keys; a guesser gets one try."""

import pytest

from protocol import code_pairing as cp
from protocol import e2ee, pairing
from protocol.errors import PairingError


def _node_side(code: str, device_message: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    _, node_pub = e2ee.generate_keypair()
    secret = pairing.new_secret()
    reply, sas_key = cp.node_reply(
        typed=code,
        device_message=device_message,
        pairing_id=pairing.code_pairing_id(code),
        node_id="node-1",
        node_public_key=node_pub,
        secret=secret,
    )
    return reply, sas_key, node_pub, secret


def test_the_right_code_gives_the_device_the_nodes_key_and_secret() -> None:
    code = pairing.new_code()
    device = cp.DeviceExchange(code.lower().replace("-", ""))
    reply, node_sas, node_pub, secret = _node_side(code, device.message)
    invite = device.open_reply(reply, pairing.code_pairing_id(code))
    assert (invite.node_public_key, invite.secret, invite.node_id) == (node_pub, secret, "node-1")
    _, dev_pub = e2ee.generate_keypair()
    shown = cp.verification_code(invite.sas_key, node_pub, dev_pub)
    assert shown == cp.verification_code(node_sas, node_pub, dev_pub)
    assert len(shown) == 7 and shown[3] == " "


def test_a_wrong_code_learns_nothing_and_says_so() -> None:
    code = pairing.new_code()
    wrong = code[:6] + ("2" if code[6] != "2" else "3") + code[7:]  # same nameplate
    device = cp.DeviceExchange(wrong)
    reply, *_ = _node_side(code, device.message)
    with pytest.raises(PairingError, match="code is wrong"):
        device.open_reply(reply, pairing.code_pairing_id(code))


def test_a_relay_playing_the_node_commits_to_one_guess() -> None:
    """The Relay answers the device itself with a guessed code: the device refuses, and the
    key the Relay would share with it differs from the one its guess gives."""
    code = pairing.new_code()
    device = cp.DeviceExchange(code)
    guess = pairing.new_code()
    reply, *_ = _node_side(guess, device.message)
    with pytest.raises(PairingError, match="Relay changed"):
        device.open_reply(reply, pairing.code_pairing_id(code))


def test_a_relay_playing_the_device_cannot_open_the_nodes_box_without_the_code() -> None:
    code = pairing.new_code()
    relay_as_device = cp.DeviceExchange(pairing.new_code())
    reply, *_ = _node_side(code, relay_as_device.message)
    with pytest.raises(PairingError):
        relay_as_device.open_reply(reply, pairing.code_pairing_id(code))


@pytest.mark.parametrize(
    "bad",
    [b"", b"A" + bytes(32), b"B" + bytes(32), b"A" + b"\xff" * 32, b"A" + bytes(31), b"X" * 33],
)
def test_malformed_spake_messages_are_refused_by_name(bad: bytes) -> None:
    with pytest.raises(PairingError):
        _node_side(pairing.new_code(), bad)


def test_tampered_or_truncated_replies_are_refused() -> None:
    code = pairing.new_code()
    device = cp.DeviceExchange(code)
    reply, *_ = _node_side(code, device.message)
    flipped = reply[:-1] + bytes([reply[-1] ^ 1])
    with pytest.raises(PairingError):
        device.open_reply(flipped, pairing.code_pairing_id(code))
    with pytest.raises(PairingError):
        cp.DeviceExchange(code).open_reply(reply[:40], pairing.code_pairing_id(code))
