"""Per-account monthly budgets: a reply that would exceed it stops cleanly mid-stream, billed
once and never above the budget; the next request is refused before it starts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from protocol import app_messages as am
from protocol import cloud
from protocol import errors as codes
from tests.cloud.conftest import get_statement
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow
# At gpt-4o's prices a short prompt costs ~$0.00002 and each word ~$0.00001: this budget runs
# out after a handful of words.
BUDGET_USD = "0.0001"


async def test_budget_exhausted_mid_stream_stops_cleanly(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env, ORA_RELAY_CLOUD_BUDGET_USD=BUDGET_USD)
    worker_factory(relay)
    owner = await owner_factory(relay)
    phone = await owner.device()
    await phone.cloud_handshake()
    long_reply = " ".join(f"word{i}" for i in range(60))
    fake_openai.script.append(Reply(text=long_reply, chunk_delay_s=0.01))

    deltas, text, other = await phone.cloud_chat("write me a long story")

    assert 0 < len(deltas) < 60, "some of the reply arrived, then it stopped"
    assert long_reply.startswith(text) and text == "".join(deltas)
    errors = [x for x in other if isinstance(x, am.AppError)]
    assert [e.code for e in errors] == [codes.BUDGET_EXHAUSTED]
    assert "budget" in errors[0].message
    receipt = next(x for x in other if isinstance(x, cloud.CloudReceipt))
    assert receipt.charged and 0 < receipt.cost_usd <= float(BUDGET_USD)
    assert receipt.remaining_usd == pytest.approx(float(BUDGET_USD) - receipt.cost_usd, abs=1e-9)

    statement = await get_statement(phone, owner.account_id)
    usage = [line for line in statement["lines"] if line["kind"] == "usage"]
    assert len(usage) == 1 and usage[0]["outcome"] == "budget_exhausted"
    assert Decimal(statement["totals"]["usage_usd"]) <= Decimal(BUDGET_USD)

    # What is left cannot pay for another request: refused before the provider is called.
    calls = len(fake_openai.requests)
    _, text, other = await phone.cloud_chat("and another one")
    assert text == ""
    assert [x.code for x in other if isinstance(x, am.AppError)] == [codes.BUDGET_EXHAUSTED]
    assert len(fake_openai.requests) == calls
    statement = await get_statement(phone, owner.account_id)
    assert Decimal(statement["totals"]["usage_usd"]) <= Decimal(BUDGET_USD)
    await phone.close()


async def test_concurrent_requests_cannot_together_exceed_the_budget(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    # Each request reserves at most 60% of the budget while it runs, so two at once get 60%
    # and 40%: both run, both stop at their share, and the month never goes over.
    budget = "0.0003"
    relay = relay_factory(
        **cloud_relay_env,
        ORA_RELAY_CLOUD_BUDGET_USD=budget,
        ORA_RELAY_CLOUD_RESERVATION_USD="0.00018",
    )
    worker_factory(relay, "w1")
    worker_factory(relay, "w2")
    owner = await owner_factory(relay)
    phone = await owner.device(name="phone")
    laptop = await owner.device(name="laptop")
    await phone.cloud_handshake()
    await laptop.cloud_handshake()
    long_reply = " ".join(f"word{i}" for i in range(60))
    fake_openai.script.extend([Reply(text=long_reply, chunk_delay_s=0.02) for _ in range(2)])

    results = await asyncio.gather(
        phone.cloud_chat("write me a long story"), laptop.cloud_chat("write me another one")
    )

    receipts = [next(x for x in r[2] if isinstance(x, cloud.CloudReceipt)) for r in results]
    assert all(r.charged for r in receipts)
    for deltas, _, other in results:
        assert 0 < len(deltas) < 60
        assert [x.code for x in other if isinstance(x, am.AppError)] == [codes.BUDGET_EXHAUSTED]
    statement = await get_statement(phone, owner.account_id)
    assert len([line for line in statement["lines"] if line["kind"] == "usage"]) == 2
    assert Decimal(statement["totals"]["usage_usd"]) <= Decimal(budget)
    await phone.close()
    await laptop.close()
