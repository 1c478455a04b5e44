"""Pairing crypto: invite links, sealed requests and answers, and what a lying Relay can't do."""

import pytest
from nacl.public import PrivateKey

from protocol import pairing
from protocol.errors import PairingError


def _keys() -> tuple[bytes, bytes]:
    k = PrivateKey.generate()
    return bytes(k), bytes(k.public_key)


def test_invite_url_round_trips_and_keeps_secrets_in_the_fragment() -> None:
    _, node_pub = _keys()
    invite = pairing.PairingInvite(
        relay_url="http://127.0.0.1:8470",
        node_id="n1",
        pairing_id="p1",
        secret=pairing.new_secret(),
        node_public_key=node_pub,
    )
    url = invite.to_url("http://127.0.0.1:8470/app/")
    before_fragment = url.split("#", 1)[0]
    assert pairing.relay_proof(invite.secret) not in url
    assert "s=" not in before_fragment and "k=" not in before_fragment
    assert pairing.PairingInvite.from_url(url) == invite


@pytest.mark.parametrize(
    "fragment",
    ["", "v=1", "v=9&r=http://x&n=n&p=p&s=AA&k=AA", "v=1&r=javascript:x&n=n&p=p&s=AA&k=AA"],
)
def test_damaged_invites_are_refused(fragment: str) -> None:
    with pytest.raises(PairingError):
        pairing.PairingInvite.from_url("http://x/app/#" + fragment)


def test_request_and_answer_round_trip() -> None:
    node, node_pub = _keys()
    dev, dev_pub = _keys()
    secret = pairing.new_secret()
    sealed = pairing.seal_request(
        node_public_key=node_pub,
        pairing_id="p1",
        secret=secret,
        device_private_key=dev,
        device_name="phone",
    )
    req = pairing.open_request(node_private_key=node, sealed=sealed)
    assert pairing.secret_matches(req, secret) and req.device_public_key == dev_pub
    assert not pairing.secret_matches(req, pairing.new_secret())
    answer = pairing.seal_answer(
        node_private_key=node,
        device_public_key=dev_pub,
        answer={"pairing_id": "p1", "device_id": "d"},
    )
    got = pairing.open_answer(
        device_private_key=dev, node_public_key=node_pub, sealed=answer, pairing_id="p1"
    )
    assert got["device_id"] == "d"


def test_relay_that_substitutes_the_node_key_cannot_read_or_answer() -> None:
    node, node_pub = _keys()
    relay, relay_pub = _keys()
    dev, dev_pub = _keys()
    sealed = pairing.seal_request(
        node_public_key=node_pub,
        pairing_id="p",
        secret=pairing.new_secret(),
        device_private_key=dev,
        device_name="d",
    )
    with pytest.raises(PairingError):
        pairing.open_request(node_private_key=relay, sealed=sealed)
    forged = pairing.seal_answer(
        node_private_key=relay, device_public_key=dev_pub, answer={"pairing_id": "p"}
    )
    with pytest.raises(PairingError):
        pairing.open_answer(
            device_private_key=dev, node_public_key=node_pub, sealed=forged, pairing_id="p"
        )


def test_relay_proof_verifies_without_revealing_the_secret() -> None:
    secret = pairing.new_secret()
    verifier = pairing.relay_verifier(secret)
    assert pairing.proof_matches(pairing.relay_proof(secret), verifier)
    assert not pairing.proof_matches(pairing.relay_proof(pairing.new_secret()), verifier)
    assert not pairing.proof_matches(verifier, verifier)


def test_typed_codes_find_the_same_pairing_however_they_are_typed() -> None:
    code = pairing.new_code()
    assert len(code) == 11 and code[5] == "-"
    sloppy = code.lower().replace("-", " ")
    assert pairing.code_pairing_id(sloppy) == pairing.code_pairing_id(code)
    assert code[:4] not in pairing.code_pairing_id(code)


def test_the_pairing_id_depends_on_the_nameplate_only() -> None:
    """What the Relay sees of a code must not let it test guesses of the rest offline."""
    code = pairing.normalize_code(pairing.new_code())
    other_rest = code[:4] + ("2" if code[4] != "2" else "3") + code[5:]
    assert pairing.code_pairing_id(other_rest) == pairing.code_pairing_id(code)
    assert not hasattr(pairing, "code_secret")


@pytest.mark.parametrize("typed", ["", "ABCDE", "ABCDE-FGHJ0", "ABCDE-FGHJKM", "IIIII-IIIII"])
def test_impossible_codes_are_refused_with_an_example(typed: str) -> None:
    with pytest.raises(PairingError, match="like"):
        pairing.code_pairing_id(typed)
