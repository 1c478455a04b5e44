"""Pairing without a camera: a typed code, and a verification code the owner compares."""

import asyncio

import pytest

from app.link.relay_link import RelayLink
from protocol import e2ee, pairing
from protocol.encoding import b64u_encode
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def test_codes_match_on_both_screens_and_the_device_works(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    shown_on_pc: list[str] = []

    async def owner_compares(code: str, name: str, role: str) -> bool:
        shown_on_pc.append(code)
        return True

    node.confirm_pairing = owner_compares
    code = await node.open_code_pairing()
    await asyncio.sleep(0.2)
    laptop = Device(relay.url, name="laptop without camera")
    shown_on_device, _ = await laptop.pair_with_code(code.lower().replace("-", ""))
    assert shown_on_pc == [shown_on_device]
    await laptop.connect()
    fake_openai.script.append(Reply(text="paired by code"))
    assert (await laptop.chat("hi"))[1] == "paired by code"
    await laptop.close()


async def test_owner_rejecting_or_absent_means_no_pairing(
    node: RelayLink, relay: RelayProcess
) -> None:
    async def owner_says_no(code: str, name: str, role: str) -> bool:
        return False

    for confirm in (owner_says_no, None):
        node.confirm_pairing = confirm
        code = await node.open_code_pairing()
        await asyncio.sleep(0.2)
        with pytest.raises(RelayRefused) as err:
            await Device(relay.url).pair_with_code(code)
        assert "confirm" in err.value.message
    assert node.registry.all() == []


async def test_a_relay_swapping_keys_shows_different_codes(
    node: RelayLink, relay: RelayProcess
) -> None:
    """A lying Relay gives the device its own key and re-seals the request to the Node with its
    own device key. It can do both halves, but the two screens then show different codes."""
    shown_on_pc: list[str] = []

    async def owner_compares(code: str, name: str, role: str) -> bool:
        shown_on_pc.append(code)
        return code == shown_on_device

    node.confirm_pairing = owner_compares
    code = await node.open_code_pairing()
    await asyncio.sleep(0.2)
    mitm_node_key, mitm_node_pub = e2ee.generate_keypair()
    mitm_device_key, mitm_device_pub = e2ee.generate_keypair()
    victim = Device(relay.url)
    shown_on_device = pairing.verification_code(
        mitm_node_pub, e2ee.public_key_of(victim.private_key)
    )
    # The Relay, having opened the victim's request with its own key, re-seals it to the Node.
    forwarded = pairing.seal_request(
        node_public_key=node.identity.public_key,
        pairing_id=pairing.code_pairing_id(code),
        secret=pairing.code_secret(code),
        device_private_key=mitm_device_key,
        device_name="phone",
    )
    with pytest.raises(RelayRefused) as err:
        await victim.post(
            "/v1/pair",
            {
                "pairing_id": pairing.code_pairing_id(code),
                "proof": pairing.relay_proof(pairing.code_secret(code)),
                "sealed": b64u_encode(forwarded),
            },
        )
    assert shown_on_pc and shown_on_pc[0] != shown_on_device
    assert shown_on_pc[0] == pairing.verification_code(node.identity.public_key, mitm_device_pub)
    assert "confirm" in err.value.message and node.registry.all() == []


async def test_unknown_codes_are_refused_and_rate_limited(
    node: RelayLink, relay: RelayProcess
) -> None:
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair_with_code(pairing.new_code())
    assert err.value.code == "pairing_refused" and "code" in err.value.message
