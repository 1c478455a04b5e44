"""Two Cloud workers behind one Relay on the machine's real PostgreSQL: concurrent retries of
the same request id are run and charged exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from protocol import app_messages as am
from protocol import cloud
from protocol import errors as codes
from protocol import messages as m
from tests.cloud.conftest import get_statement
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    """A database of its own for this test (dropped after)."""
    name = f"ora_cloud_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_concurrent_retries_on_two_workers_are_charged_once(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    database_url: str,
    fake_openai: FakeOpenAI,
) -> None:
    relay = relay_factory(**cloud_relay_env, DATABASE_URL=database_url)
    w1 = worker_factory(relay, "w1")
    w2 = worker_factory(relay, "w2")
    owner = await owner_factory(relay)
    # The same request sent from two of the owner's devices at once (a phone retrying on its
    # laptop): each session lands on a different worker.
    phone = await owner.device(name="phone")
    laptop = await owner.device(name="laptop")
    await phone.cloud_handshake()
    await laptop.cloud_handshake()
    slow = Reply(text="one answer for one request only", chunk_delay_s=0.05)
    fake_openai.script.extend([slow, Reply(text="a second run would be a double charge")])

    request_id = str(uuid.uuid4())
    results = await asyncio.gather(
        phone.cloud_chat("what is due today?", request_id=request_id),
        laptop.cloud_chat("what is due today?", request_id=request_id),
    )

    served = [r for r in results if r[1]]
    refused = [r for r in results if not r[1]]
    assert len(served) == 1 and len(refused) == 1
    assert served[0][1] == "one answer for one request only"
    errors = [x for x in refused[0][2] if isinstance(x, am.AppError)]
    assert [e.code for e in errors] == [codes.DUPLICATE_REQUEST]
    assert "not run or billed again" in errors[0].message
    receipt = next(x for x in served[0][2] if isinstance(x, cloud.CloudReceipt))
    assert receipt.charged
    assert len(fake_openai.requests) == 1, "the provider ran the request once"

    # Both workers took part: one ran it, the other was told it was a duplicate.
    logs = {w.name: [e["msg"] for e in w.log()] for w in (w1, w2)}
    assert sorted(
        ("request finished" in msgs, "request refused" in msgs) for msgs in logs.values()
    ) == [(False, True), (True, False)]

    # A later retry of the same id (after the first finished) is not charged either.
    _, text, other = await phone.cloud_chat("what is due today?", request_id=request_id)
    assert text == "" and [x.code for x in other if isinstance(x, am.AppError)] == [
        codes.DUPLICATE_REQUEST
    ]

    statement = await get_statement(phone, owner.account_id)
    usage = [line for line in statement["lines"] if line["kind"] == "usage"]
    assert [u["request_id"] for u in usage] == [request_id]
    assert float(statement["totals"]["usage_usd"]) == pytest.approx(receipt.cost_usd, abs=1e-9)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT state FROM usage_events WHERE request_id=$1", request_id)
    finally:
        await conn.close()
    assert [r["state"] for r in rows] == ["billed"]
    await phone.close()
    await laptop.close()


async def test_a_worker_dying_mid_request_releases_its_claim_after_the_lease(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    database_url: str,
    fake_openai: FakeOpenAI,
) -> None:
    relay = relay_factory(
        **cloud_relay_env, DATABASE_URL=database_url, ORA_RELAY_CLOUD_CLAIM_LEASE_S="3"
    )
    doomed = worker_factory(relay, "doomed")
    owner = await owner_factory(relay)
    phone = await owner.device()
    await phone.cloud_handshake()  # the session is on the only worker there is
    worker_factory(relay, "survivor")
    fake_openai.script.append(Reply(text=" ".join(["slow"] * 40), chunk_delay_s=0.2))
    request_id = str(uuid.uuid4())
    await phone.cloud_send(am.Chat(id=request_id, text="a long job"))
    first = await phone.next_cloud()
    assert isinstance(first, am.Delta)
    assert doomed.proc is not None
    doomed.proc.kill()  # no goodbye, no usage event
    lost = await phone.next_control(kind=m.Error)
    assert lost.code == codes.CLOUD_UNAVAILABLE and "send your request again" in lost.message

    await phone.cloud_handshake()
    # Within the lease the dead worker's claim still holds the id: not run twice.
    _, text, other = await phone.cloud_chat("a long job", request_id=request_id)
    assert [x.code for x in other if isinstance(x, am.AppError)] == [codes.DUPLICATE_REQUEST]
    await asyncio.sleep(3.5)
    fake_openai.script.append(Reply(text="done this time"))
    _, text, other = await phone.cloud_chat("a long job", request_id=request_id)
    assert text == "done this time"
    receipt = next(x for x in other if isinstance(x, cloud.CloudReceipt))
    assert receipt.charged

    statement = await get_statement(phone, owner.account_id)
    usage = [line for line in statement["lines"] if line["kind"] == "usage"]
    assert [(u["request_id"], u["outcome"]) for u in usage] == [(request_id, "completed")]
    await phone.close()
