"""Registering a Node is free, so it must not buy Cloud time: a new account's Cloud request is
refused ("no Cloud budget: subscribe") until a payment activates it through the webhook."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol import app_messages as am
from protocol import cloud
from protocol import errors as codes
from tests.cloud.conftest import get_statement, post_webhook, subscription_event
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


async def test_a_fresh_account_has_no_cloud_budget_until_the_webhook_activates_it(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env, ORA_RELAY_CLOUD_BUDGET_USD="2")
    worker_factory(relay)
    # The attacker's move: register a Node (free), pair a phone, ask the paid Cloud.
    owner = await owner_factory(relay, subscribe=False)
    phone = await owner.device()
    await phone.cloud_handshake()
    _, text, other = await phone.cloud_chat("spend someone else's money")
    refusals = [x for x in other if isinstance(x, am.AppError)]
    assert text == "" and [r.code for r in refusals] == [codes.NO_CLOUD_BUDGET]
    assert refusals[0].message.startswith("no Cloud budget: subscribe")
    assert fake_openai.requests == [], "the provider must not be called"
    statement = await get_statement(phone, owner.account_id)
    assert Decimal(statement["totals"]["cloud_budget_usd"]) == 0
    assert [line for line in statement["lines"] if line["kind"] == "usage"] == []

    # A payment arrives: the provider's signed webhook activates the plan's Cloud budget.
    status, body = await post_webhook(relay, subscription_event(owner.account_id, "active"))
    assert status == 200 and body["status"] == "active"
    fake_openai.script.append(Reply(text="now it runs"))
    _, text, other = await phone.cloud_chat("and now?")
    assert text == "now it runs"
    assert not [x for x in other if isinstance(x, am.AppError)]
    assert next(x for x in other if isinstance(x, cloud.CloudReceipt)).charged
    statement = await get_statement(phone, owner.account_id)
    assert Decimal(statement["totals"]["cloud_budget_usd"]) == 2

    # A later event does not hand out a second budget, nor does a lapse keep the Cloud open.
    status, body = await post_webhook(relay, subscription_event(owner.account_id, "past_due"))
    assert status == 200 and body["status"] == "past_due"
    await phone.close()
