"""The owner hears once, on their phone, that this month's Cloud budget is nearly spent (a real
Relay, Cloud worker and push service; the push says the kind and the month, nothing else)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.relay.test_push_events import opt_in, push_env, push_service, received  # noqa: F401
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.push_testing import PushService

pytestmark = pytest.mark.slow
BUDGET_USD = "0.0001"  # a handful of words at gpt-4o's prices (as in test_budget.py)


async def test_the_budget_nearly_spent_is_pushed_once(
    tmp_path: Path,
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    fake_openai: FakeOpenAI,
    push_service: PushService,  # noqa: F811
) -> None:
    env = {**cloud_relay_env, **push_env(tmp_path, push_service)}
    relay = relay_factory(**env, ORA_RELAY_CLOUD_BUDGET_USD=BUDGET_USD)
    worker_factory(relay)
    owner = await owner_factory(relay)
    phone = await owner.device()
    client_hash = await opt_in(phone, push_service)
    await phone.cloud_handshake()
    secret = "my salary is 123456"
    fake_openai.script.append(Reply(text=" ".join(f"word{i}" for i in range(60))))
    await phone.cloud_chat(secret)
    fake_openai.script.append(Reply(text="more words"))
    await phone.cloud_chat("and another one")

    for _ in range(100):
        budget = [n for n in received(push_service, client_hash) if n["kind"] == "budget_low"]
        if budget:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    budget = [n for n in received(push_service, client_hash) if n["kind"] == "budget_low"]
    assert len(budget) == 1, budget
    assert set(budget[0]) == {"v", "kind", "event", "ids"}
    assert set(budget[0]["ids"]) == {"month"}
    assert "salary" not in json.dumps(budget) and "word" not in json.dumps(budget)
    await phone.close()
