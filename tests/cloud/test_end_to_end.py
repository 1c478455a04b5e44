"""Device -> Relay -> Cloud worker -> provider (a real HTTP server on loopback) -> streamed reply,
and the usage event and statement line it produces."""

from __future__ import annotations

import uuid
from decimal import Decimal

import aiohttp
import pytest

from protocol import app_messages as am
from protocol import cloud
from protocol import messages as m
from tests.cloud.conftest import get_statement
from tests.relay.conftest import free_port
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow
MARKER = "tangerine-7741-confidential"


async def test_streamed_reply_through_the_cloud_is_metered_and_on_the_statement(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env)
    metrics_port = free_port()
    worker = worker_factory(relay, ORA_CLOUD_METRICS_PORT=str(metrics_port))
    owner = await owner_factory(relay)
    phone = await owner.device()

    info = await phone.cloud_handshake()
    assert info.model == "gpt-4o"
    # Paced like a real model; pieces that arrive together would travel together.
    fake_openai.script.append(Reply(text="the cloud answers in several pieces", chunk_delay_s=0.02))
    request_id = str(uuid.uuid4())
    deltas, text, other = await phone.cloud_chat(f"summarise {MARKER}", request_id=request_id)

    assert len(deltas) > 1, "the reply must stream, not arrive in one piece"
    assert text == "the cloud answers in several pieces" == "".join(deltas)
    assert MARKER in fake_openai.requests[-1]["messages"][-1]["content"]
    receipt = next(x for x in other if isinstance(x, cloud.CloudReceipt))
    assert receipt.charged and receipt.model == "gpt-4o"
    assert receipt.tokens_in > 0 and receipt.tokens_out > 0 and receipt.cost_usd > 0
    assert not [x for x in other if isinstance(x, am.AppError)]

    statement = await get_statement(phone, owner.account_id)
    subscription, *usage = statement["lines"]
    assert subscription["kind"] == "subscription" and statement["status"] == "active"
    assert [u["request_id"] for u in usage] == [request_id]
    line = usage[0]
    assert (line["model"], line["tokens_in"], line["tokens_out"], line["outcome"]) == (
        "gpt-4o",
        receipt.tokens_in,
        receipt.tokens_out,
        "completed",
    )
    assert abs(Decimal(line["amount_usd"]) - Decimal(repr(receipt.cost_usd))) < Decimal("1e-9")
    totals = statement["totals"]
    assert Decimal(totals["total_usd"]) == Decimal(totals["subscription_usd"]) + Decimal(
        totals["usage_usd"]
    )

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{metrics_port}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
            metrics = await resp.text()
    assert 'ora_cloud_requests_total{outcome="completed"} 1.0' in metrics
    assert MARKER not in metrics

    # The Relay routed it without reading it; the worker logged metadata, not content.
    await phone.close()
    worker.stop()
    relay.stop()
    for path in relay.data_dir.rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes(), path
    assert MARKER not in worker.log_path.read_text()
    finished = [e for e in worker.log() if e["msg"] == "request finished"]
    assert [e["request_id"] for e in finished] == [request_id]


async def test_the_node_offline_does_not_stop_the_cloud(
    relay_factory, worker_factory, owner_factory, cloud_relay_env, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory(**cloud_relay_env)
    worker_factory(relay)
    owner = await owner_factory(relay)
    phone = await owner.device()
    await owner.link.stop()
    offline = await phone.next_control(kind=m.Presence)
    while offline.online:
        offline = await phone.next_control(kind=m.Presence)

    await phone.cloud_handshake()
    fake_openai.script.append(Reply(text="your PC is off but I am here"))
    _, text, _ = await phone.cloud_chat("is anyone there?")
    assert text == "your PC is off but I am here"
    await phone.close()
