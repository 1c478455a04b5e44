"""Pairing without a camera: the typed code authenticates both keys (SPAKE2), tried as the Relay.

The honest flow pairs; a Relay that substitutes the Node's key or the device's, or grinds
codes, is caught and the pairing fails with a clear message; wrong codes lock the pairing.
"""

import asyncio

import pytest

from app.link.relay_link import RelayLink
from protocol import code_pairing, e2ee, pairing
from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import PairingError
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.lying_relay import Forward, Json, lying_relay

pytestmark = pytest.mark.slow


def _same_nameplate_wrong_code(code: str) -> str:
    raw = pairing.normalize_code(code)
    return raw[:6] + ("2" if raw[6] != "2" else "3") + raw[7:]


async def test_codes_match_on_both_screens_and_the_device_works(
    node: RelayLink, relay: RelayProcess
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
    assert laptop.node_public_key == node.identity.public_key
    await laptop.connect()  # the end-to-end handshake with the Node, under the paired keys
    assert laptop.session is not None
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


async def test_a_relay_substituting_the_nodes_key_and_grinding_is_refused_by_the_device(
    node: RelayLink, relay: RelayProcess
) -> None:
    """The Relay answers the device's SPAKE2 message itself, as a Node with its own key. It has
    to commit to one code guess in that answer; grinding guesses offline first gains nothing,
    since nothing it holds tells a right guess from a wrong one. The device refuses."""
    asked: list[str] = []

    async def owner(code: str, name: str, role: str) -> bool:
        asked.append(code)
        return True

    node.confirm_pairing = owner
    code = await node.open_code_pairing()
    _, mitm_node_pub = e2ee.generate_keypair()
    observed: list[Json] = []

    async def substitute_node(body: Json, forward: Forward) -> tuple[int, Json]:
        status, honest = await forward(body)  # the real Node's reply, to grind against
        observed.append(honest)
        reply = b64u_decode(honest["reply"])
        for _ in range(200):  # every code the Relay can try against what it saw: none opens
            guess = pairing.new_code()
            with pytest.raises(PairingError):
                code_pairing.DeviceExchange(guess).open_reply(reply, body["pairing_id"])
        with pytest.raises(PairingError):  # not even the right code, without the device's secret
            code_pairing.DeviceExchange(code).open_reply(reply, body["pairing_id"])
        forged, _ = code_pairing.node_reply(
            typed=pairing.new_code(),
            device_message=b64u_decode(body["pake"]),
            pairing_id=body["pairing_id"],
            node_id=node.identity.node_id,
            node_public_key=mitm_node_pub,
            secret=pairing.new_secret(),
        )
        return 200, {"reply": b64u_encode(forged)}

    async with lying_relay(relay.url) as evil:
        evil.post_hooks["/v1/pair/code"] = substitute_node
        victim = Device(evil.url)
        with pytest.raises(PairingError, match="code is wrong, or the Relay"):
            await victim.pair_with_code(code)
    assert observed and asked == [] and node.registry.all() == []
    assert [path for path, _ in evil.seen_posts] == ["/v1/pair/code"], "nothing else was sent"


async def test_a_relay_substituting_the_devices_key_is_refused_by_the_node(
    node: RelayLink, relay: RelayProcess
) -> None:
    """The Relay lets the honest exchange through, then swaps the device's sealed request for
    one carrying its own key. It saw only the one-way proof of the pairing secret, never the
    secret (that travels inside the SPAKE2 box), so the Node refuses and pairs nobody."""
    asked: list[str] = []

    async def owner(code: str, name: str, role: str) -> bool:
        asked.append(code)
        return True

    node.confirm_pairing = owner
    code = await node.open_code_pairing()
    mitm_device_key, _ = e2ee.generate_keypair()

    async def substitute_device(body: Json, forward: Forward) -> tuple[int, Json]:
        forged = pairing.seal_request(
            node_public_key=node.identity.public_key,
            pairing_id=body["pairing_id"],
            secret=bytes.fromhex(body["proof"]),  # the best it has: the proof, not the secret
            device_private_key=mitm_device_key,
            device_name="phone",
        )
        return await forward({**body, "sealed": b64u_encode(forged)})

    async with lying_relay(relay.url) as evil:
        evil.post_hooks["/v1/pair"] = substitute_device
        with pytest.raises(RelayRefused) as err:
            await Device(evil.url).pair_with_code(code)
    assert "wrong pairing secret" in err.value.message
    assert asked == [] and node.registry.all() == []


async def test_a_relay_guessing_as_the_device_gets_three_tries_then_the_pairing_locks(
    node: RelayLink, relay: RelayProcess
) -> None:
    """Playing the device toward the Node, each guess costs one of the Node's attempts."""
    node.confirm_pairing = None
    code = await node.open_code_pairing()
    relay_as_device = Device(relay.url)
    for _ in range(code_pairing.MAX_CODE_ATTEMPTS):
        with pytest.raises(PairingError, match="code is wrong"):
            await relay_as_device.code_exchange(_same_nameplate_wrong_code(code))
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).code_exchange(code)  # now even the right code is too late
    assert err.value.code == "pairing_locked" and "make a new code" in err.value.message
    assert node.registry.all() == []


async def test_unknown_codes_are_refused(node: RelayLink, relay: RelayProcess) -> None:
    with pytest.raises(RelayRefused) as err:
        await Device(relay.url).pair_with_code(pairing.new_code())
    assert err.value.code == "pairing_refused" and "code" in err.value.message
