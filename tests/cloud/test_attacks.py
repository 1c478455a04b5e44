"""Refusals of the Cloud and billing paths, each by name: forged or replayed webhooks, a lapsed
subscription, a device without a Cloud grant, a wrong worker credential, a substituted Cloud key,
someone else's statement."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from cloud_worker.__main__ import keygen
from protocol import errors as codes
from protocol import messages as m
from protocol.errors import HandshakeError
from tests.cloud.conftest import (
    cloud_workers_connected,
    get_statement,
    post_webhook,
    subscription_event,
)
from tests.support.device_client import Device, RelayRefused
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def _status(phone, account_id: str) -> str:
    return (await get_statement(phone, account_id))["status"]


async def test_webhook_bad_signature_or_replay_is_refused(
    relay_factory, owner_factory, cloud_relay_env
) -> None:
    relay = relay_factory(**cloud_relay_env)
    owner = await owner_factory(relay)
    phone = await owner.device()
    lapse = subscription_event(owner.account_id, "past_due")

    status, body = await post_webhook(relay, lapse, secret="whsec_guessed_by_an_attacker")
    assert (status, body["error"]) == (400, "webhook_refused")
    assert "signature" in body["message"]
    status, body = await post_webhook(relay, lapse, header="t=1,v1=")
    assert status == 400
    status, body = await post_webhook(relay, lapse, header="")
    assert status == 400 and "Stripe-Signature" in body["message"]
    # A genuine delivery captured and replayed later: its timestamp is out of tolerance.
    status, body = await post_webhook(relay, lapse, timestamp=int(time.time()) - 301)
    assert status == 400 and "tolerance" in body["message"]
    assert await _status(phone, owner.account_id) == "active"

    # Delivered once it applies; the same event again (even freshly signed) is refused.
    reactivate = subscription_event(owner.account_id, "active")
    status, body = await post_webhook(relay, reactivate)
    assert status == 200 and body["status"] == "active"
    status, body = await post_webhook(relay, reactivate)
    assert status == 400 and "already received" in body["message"]
    await phone.close()


async def test_subscription_lapse_blocks_remote_access_with_a_clear_error(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env)
    worker_factory(relay)
    owner = await owner_factory(relay)
    phone = await owner.device()
    await phone.cloud_handshake()

    status, body = await post_webhook(relay, subscription_event(owner.account_id, "past_due"))
    assert (status, body["status"]) == (200, "past_due")
    # The live connection is closed at once, with the reason.
    closed = await phone.next_control(kind=m.Error)
    assert closed.code == codes.SUBSCRIPTION_INACTIVE and "past due" in closed.message
    # Connecting again is refused with the same clear error, not left hanging.
    reply = await phone.connect(handshake=False, expect_welcome=False)
    assert isinstance(reply, m.Error) and reply.code == codes.SUBSCRIPTION_INACTIVE
    assert "payment" in reply.message

    # Nor can a new device be paired meanwhile.
    _, url = await owner.link.open_pairing()
    await asyncio.sleep(0.3)
    newcomer = Device(relay.url, name="new phone")
    with pytest.raises(RelayRefused) as refused:
        await newcomer.pair(url)
    assert refused.value.code == codes.SUBSCRIPTION_INACTIVE
    await newcomer.close()

    # An older event delivered late does not undo a newer one.
    stale = subscription_event(owner.account_id, "active")
    stale["created"] = time.time() - 3600
    status, body = await post_webhook(relay, stale)
    assert (status, body["status"]) == (200, "past_due")

    # Paid again: remote access and the Cloud work again.
    status, body = await post_webhook(relay, subscription_event(owner.account_id, "active"))
    assert body["status"] == "active"
    assert isinstance(await phone.connect(handshake=False), m.Welcome)
    await phone.cloud_handshake()
    fake_openai.script.append(Reply(text="welcome back"))
    _, text, _ = await phone.cloud_chat("hello again")
    assert text == "welcome back"

    status, body = await post_webhook(
        relay,
        {**subscription_event(owner.account_id, "active"), "type": "customer.subscription.deleted"},
    )
    reply = await phone.next_control(kind=m.Error)
    assert reply.code == codes.SUBSCRIPTION_INACTIVE and "cancelled" in reply.message
    await phone.close()


async def test_a_guest_device_cannot_spend_the_owners_money(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env)
    worker = worker_factory(relay)
    owner = await owner_factory(relay, profile="shared")  # guests pair only with shared
    guest = await owner.device(role="guest", name="friend")
    with pytest.raises(TimeoutError):
        await guest.cloud_handshake(timeout=2)
    refusal = await guest.next_control(kind=m.Error)
    assert refusal.code == codes.CLOUD_NOT_ALLOWED and "owner" in refusal.message
    assert fake_openai.requests == []
    assert not [e for e in worker.log() if "request" in e["msg"]]
    # Nor may a guest read the owner's statement.
    http = await guest._http()
    async with http.get(
        f"{relay.url}/v1/accounts/{owner.account_id}/statement",
        headers={"Authorization": f"Bearer {guest.access_token}"},
    ) as resp:
        assert resp.status == 401
    await guest.close()


async def test_statement_of_another_account_is_refused(
    relay_factory, owner_factory, cloud_relay_env
) -> None:
    relay = relay_factory(**cloud_relay_env)
    alice = await owner_factory(relay, "alice")
    bob = await owner_factory(relay, "bob")
    alice_phone = await alice.device()
    async with aiohttp.ClientSession() as http:
        for headers in (
            {"Authorization": f"Bearer {alice_phone.access_token}"},
            {},
            {"Authorization": "Bearer ora_at_forged"},
        ):
            async with http.get(
                f"{relay.url}/v1/accounts/{bob.account_id}/statement", headers=headers
            ) as resp:
                assert resp.status == 401
    await alice_phone.close()


async def test_wrong_worker_credential_is_refused(
    relay_factory, worker_factory, cloud_relay_env
) -> None:
    relay = relay_factory(**cloud_relay_env)
    impostor = worker_factory(
        relay, "impostor", wait=False, ORA_CLOUD_TOKEN=keygen()["ORA_CLOUD_TOKEN"]
    )
    assert impostor.proc is not None
    assert await asyncio.to_thread(impostor.proc.wait, 30) == 1
    assert "refused this worker" in impostor.log_path.read_text()
    assert cloud_workers_connected(relay) == 0


async def test_no_worker_or_a_substituted_cloud_key_fails_clearly(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env)
    owner = await owner_factory(relay)
    phone = await owner.device()
    with pytest.raises(TimeoutError):
        await phone.cloud_handshake(timeout=2)
    refusal = await phone.next_control(kind=m.Error)
    assert refusal.code == codes.CLOUD_UNAVAILABLE and not refusal.fatal

    # A worker holding another key (what a Relay substituting the Cloud would route to) cannot
    # complete the handshake with the key the device pinned.
    worker_factory(relay, "impostor", ORA_CLOUD_PRIVATE_KEY=keygen()["ORA_CLOUD_PRIVATE_KEY"])
    with pytest.raises(HandshakeError):
        await phone.cloud_handshake()
    assert fake_openai.requests == []
    await phone.close()
