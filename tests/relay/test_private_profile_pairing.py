"""Private means the owner's devices only: no guest pairs with it, and a guest device that was
paired before gets a message instead of the owner's model."""

import pytest

from app.errors import PairingRefused
from app.link.relay_link import RelayLink
from app.policy.gate import PRIVATE_IS_OWNER_ONLY
from protocol import app_messages as am
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow


async def test_a_guest_pairing_is_refused_on_the_private_profile(node: RelayLink) -> None:
    assert node.runtime.settings.profile.value == "private"
    for open_it in (node.open_pairing, node.open_code_pairing):
        with pytest.raises(PairingRefused, match="owner's own devices"):
            await open_it(role="guest")


async def test_a_guest_pairing_opened_anyway_is_refused_at_acceptance(
    node: RelayLink, relay: RelayProcess
) -> None:
    # An open guest pairing that slipped past (an older version opened it, say).
    invite, url = await node.open_pairing()
    node.pairing_desk.pairings[invite.pairing_id].role = "guest"
    phone = Device(relay.url)
    with pytest.raises(RelayRefused) as refused:
        await phone.pair(url)
    assert "owner's own devices" in str(refused.value)
    assert node.registry.all() == []


async def test_a_guest_device_already_paired_gets_a_message_not_the_model(
    node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    phone = Device(relay.url)
    await phone.pair(url)
    # Paired as a guest before private meant owner-only.
    node.registry._table.update(phone.device_id, {"role": "guest"})
    await phone.connect()
    await phone.send(am.Chat(id="c1", text="hello"))
    reply = await phone.next_app()
    assert isinstance(reply, am.AppError) and reply.code == "private_profile"
    assert reply.message == PRIVATE_IS_OWNER_ONLY
    assert fake_openai.requests == [], "the owner's provider was not used"
    await phone.close()
