"""The store's contract, run on both engines in-process: SQLite and the machine's PostgreSQL.

Every RelayStore method is exercised here with the same expectations on each engine, and a
database made before schema versions were kept (today's tables, no schema_version) still
opens, keeps its rows and is migrated forward.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from relay_server import schema
from relay_server.rows import DeviceRow, NodeRow
from relay_server.storage import NANO, Conflict, PostgresStore, RelayStore, SqliteStore

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Engine:
    """One database on one engine; `open()` opens a store on it (again and again)."""

    name: str
    where: str  # the SQLite file, or the PostgreSQL DSN
    opened: list[RelayStore] = field(default_factory=list)

    async def open(self) -> RelayStore:
        if self.name == "sqlite":
            store: RelayStore = SqliteStore(Path(self.where))
        else:
            store = await PostgresStore.connect(self.where)
        self.opened.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    if request.param == "sqlite":
        engine = Engine("sqlite", str(tmp_path / "relay.db"))
        yield engine
        for store in engine.opened:
            await store.close()
        return
    name = f"ora_store_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    engine = Engine("postgresql", f"postgresql://postgres@127.0.0.1:5432/{name}")
    yield engine
    for store in engine.opened:
        await store.close()
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def store(engine: Engine) -> RelayStore:
    return await engine.open()


async def test_nodes_and_devices(store: RelayStore) -> None:
    assert await store.ping()
    await store.add_node("n1", "h1", "pk1")
    assert await store.node_by_credential("h1") == NodeRow(node_id="n1", public_key="pk1")
    assert await store.node_by_credential("h2") is None
    assert await store.node_public_key("n1") == "pk1" and await store.node_public_key("x") is None
    with pytest.raises(Conflict):
        await store.add_node("n2", "h1", "pk2")  # a credential belongs to one Node
    await store.add_device("d1", "n1", "owner")
    assert await store.device("d1") == DeviceRow(node_id="n1", role="owner", revoked=False)
    assert await store.device("d2") is None
    with pytest.raises(Conflict):
        await store.add_device("d1", "n1", "guest")


async def test_tokens_rotate_and_revoke(store: RelayStore) -> None:
    await store.add_device("d1", "n1", "owner")
    exp = time.time() + 60
    await store.add_token("rt1", "rt", "d1", "fam", exp)
    await store.add_token("at1", "at", "d1", "fam", exp)
    await store.add_token("at2", "at", "d2", "other", exp)
    row = await store.token("rt1")
    assert row is not None and (row.kind, row.device_id, row.family_id) == ("rt", "d1", "fam")
    assert row.expires_at == pytest.approx(exp) and row.replaced is False and row.revoked is False
    assert await store.token("nope") is None
    assert await store.mark_replaced("rt1") and not await store.mark_replaced("rt1")  # reuse
    await store.retire_access_tokens("fam")
    at1 = await store.token("at1")
    assert at1 is not None and at1.replaced is True
    await store.revoke_family("fam")
    assert all([(await store.token(h)).revoked for h in ("rt1", "at1")])
    other = await store.token("at2")
    assert other is not None and not other.revoked and not other.replaced


async def test_revoking_a_device_revokes_its_tokens(store: RelayStore) -> None:
    await store.add_device("d1", "n1", "owner")
    await store.add_token("at1", "at", "d1", "fam", time.time() + 60)
    await store.revoke_device("d1")
    assert await store.device("d1") == DeviceRow(node_id="n1", role="owner", revoked=True)
    token = await store.token("at1")
    assert token is not None and token.revoked


async def test_a_token_is_found_with_its_device_in_one_lookup(store: RelayStore) -> None:
    """What a hello checks: the token and its device as they are now."""
    await store.add_device("d1", "n1", "guest")
    await store.add_token("at1", "at", "d1", "fam", time.time() + 60)
    await store.add_token("orphan", "at", "gone", "fam2", time.time() + 60)
    found = await store.token_and_device("at1")
    assert found is not None
    token, device = found
    assert (token.device_id, token.family_id, token.revoked) == ("d1", "fam", False)
    assert device == DeviceRow(node_id="n1", role="guest", revoked=False)
    assert await store.token_and_device("nope") is None
    orphan = await store.token_and_device("orphan")
    assert orphan is not None and orphan[1] is None  # no device row: the caller refuses it
    await store.revoke_device("d1")
    again = await store.token_and_device("at1")
    assert again is not None and again[0].revoked and again[1] is not None and again[1].revoked


async def test_pairings_lock_after_failed_attempts_and_claim_once(store: RelayStore) -> None:
    exp = time.time() + 300
    await store.add_pairing("p1", "n1", "ver", "guest", exp)
    row = await store.pairing("p1")
    assert row is not None and (row.node_id, row.verifier, row.role) == ("n1", "ver", "guest")
    assert (row.attempts, row.state) == (0, "open") and row.expires_at == pytest.approx(exp)
    assert await store.pairing("p2") is None
    assert await store.count_failed_attempt("p1", 3) == 1
    assert await store.count_failed_attempt("p1", 3) == 2
    assert (await store.pairing("p1")).state == "open"
    assert await store.count_failed_attempt("p1", 3) == 3
    assert (await store.pairing("p1")).state == "locked"
    assert not await store.claim_pairing("p1")
    assert await store.count_failed_attempt("missing", 3) == 0
    await store.add_pairing("p2", "n1", "ver", "owner", exp)
    assert await store.claim_pairing("p2") and not await store.claim_pairing("p2")
    await store.set_pairing_state("p2", "open")
    assert await store.claim_pairing("p2")


async def test_audit_keeps_order_and_filters(store: RelayStore) -> None:
    await store.audit("connected", node_id="n1", source="1.2.3.4", detail="node")
    await store.audit("refused:x", device_id="d1")
    await store.audit("connected", node_id="n2")
    rows = await store.audit_rows()
    assert [r.event for r in rows] == ["connected", "refused:x", "connected"]
    assert (rows[0].node_id, rows[0].source, rows[0].detail) == ("n1", "1.2.3.4", "node")
    assert [r.node_id for r in await store.audit_rows("connected")] == ["n1", "n2"]


async def test_accounts_keep_the_newest_status(store: RelayStore) -> None:
    account = await store.ensure_account("a1", "relay-monthly", "active", 5 * NANO)
    assert (account.plan, account.status, account.budget_nusd) == (
        "relay-monthly",
        "active",
        5 * NANO,
    )
    again = await store.ensure_account("a1", "other", "cancelled", 1)
    assert again == account  # defaults apply only to a new account
    assert await store.set_account_status("a1", "past_due", 100.0)
    assert not await store.set_account_status("a1", "active", 50.0)  # an older event loses
    await store.set_account_budget("a1", 7 * NANO)
    now = await store.ensure_account("a1", "x", "x", 0)
    assert (now.status, now.status_at, now.budget_nusd) == ("past_due", 100.0, 7 * NANO)
    assert not await store.set_account_status("nobody", "active", 1.0)


async def test_usage_is_claimed_reserved_and_billed_once(store: RelayStore) -> None:
    await store.ensure_account("a1", "p", "active", 10)
    stale = time.time() - 900
    assert await store.claim_usage("a1", "r1", "d1", "2026-11", 10, 4, stale) == ("granted", 4)
    assert await store.claim_usage("a1", "r1", "d1", "2026-11", 10, 4, stale) == ("duplicate", 6)
    assert await store.month_held("a1", "2026-11", stale) == 4
    assert await store.claim_usage("a1", "r2", "d1", "2026-11", 10, 4, stale) == ("granted", 4)
    assert await store.claim_usage("a1", "r3", "d1", "2026-11", 10, 4, stale) == ("granted", 2)
    assert await store.claim_usage("a1", "r4", "d1", "2026-11", 10, 4, stale) == ("exhausted", 0)
    billed: dict[str, Any] = {
        "model": "m",
        "tokens_in": 3,
        "tokens_out": 5,
        "cost_nusd": 1,
        "outcome": "ok",
    }
    assert await store.bill_usage("a1", "r1", **billed)
    assert not await store.bill_usage("a1", "r1", **billed)  # once
    assert not await store.bill_usage("a1", "never-claimed", **billed)
    assert await store.month_held("a1", "2026-11", stale) == 1 + 4 + 2
    assert await store.claim_usage("a1", "r1", "d1", "2026-11", 10, 4, stale) == ("duplicate", 3)
    rows = await store.usage_rows("a1", "2026-11")
    assert [r.request_id for r in rows] == ["r1", "r2", "r3"]
    first = rows[0]
    assert (first.state, first.model, first.tokens_in, first.tokens_out) == ("billed", "m", 3, 5)
    assert (first.cost_nusd, first.outcome, first.device_id) == (1, "ok", "d1")
    assert first.billed_at is not None and rows[1].billed_at is None and rows[1].model is None
    assert await store.usage_rows("a1", "2026-10") == []


async def test_a_stale_claim_is_taken_over_but_a_billed_one_never(store: RelayStore) -> None:
    await store.ensure_account("a1", "p", "active", 10)
    past = time.time() - 1000
    assert await store.claim_usage("a1", "r1", "d1", "m", 10, 4, past) == ("granted", 4)
    assert await store.claim_usage("a1", "r2", "d1", "m", 10, 4, past) == ("granted", 4)
    billed: dict[str, Any] = {
        "model": "m",
        "tokens_in": 1,
        "tokens_out": 1,
        "cost_nusd": 3,
        "outcome": "ok",
    }
    assert await store.bill_usage("a1", "r2", **billed)
    # The lease ran out: r1's worker died. Its reservation is released and r1 may run again;
    # r2, billed, stays billed and is not claimed again.
    lease_end = time.time()
    await asyncio.sleep(0.01)
    assert await store.month_held("a1", "m", lease_end) == 3
    assert await store.claim_usage("a1", "r1", "d2", "m", 10, 4, lease_end) == ("granted", 4)
    assert await store.claim_usage("a1", "r2", "d2", "m", 10, 4, lease_end) == ("duplicate", 3)
    rows = {r.request_id: r for r in await store.usage_rows("a1", "m")}
    assert rows["r1"].device_id == "d2" and rows["r2"].state == "billed"


async def test_concurrent_claims_never_exceed_the_budget(engine: Engine) -> None:
    # Two stores on one database: two Relay processes (SQLite) or instances (PostgreSQL).
    first, second = await engine.open(), await engine.open()
    await first.ensure_account("a1", "p", "active", 10)
    stale = time.time() - 900
    grants = await asyncio.gather(
        *[
            (first if i % 2 else second).claim_usage("a1", f"r{i}", "d", "m", 10, 3, stale)
            for i in range(12)
        ]
    )
    assert sum(reserved for outcome, reserved in grants if outcome == "granted") <= 10
    assert await first.month_held("a1", "m", stale) <= 10


async def test_webhook_events_are_remembered_once(store: RelayStore) -> None:
    assert await store.remember_webhook_event("evt_1")
    assert not await store.remember_webhook_event("evt_1")
    assert await store.remember_webhook_event("evt_2")


async def test_reopening_keeps_rows_and_the_schema_version(engine: Engine) -> None:
    first = await engine.open()
    await first.add_node("n1", "h1", "pk1")
    await first.close()
    again = await engine.open()
    assert await again.node_public_key("n1") == "pk1"


# The tables as the Relay made them before schema versions were kept (its last unversioned
# release), with a row in each that matters; they must open under the current code.
_UNVERSIONED_SQLITE = """
CREATE TABLE nodes (node_id TEXT PRIMARY KEY, credential_hash TEXT UNIQUE NOT NULL,
    public_key TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE devices (device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, role TEXT NOT NULL,
    created_at REAL NOT NULL, revoked_at REAL);
CREATE TABLE tokens (token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL,
    family_id TEXT NOT NULL, expires_at REAL NOT NULL, replaced INTEGER NOT NULL DEFAULT 0,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE accounts (account_id TEXT PRIMARY KEY, plan TEXT NOT NULL, status TEXT NOT NULL,
    status_at REAL NOT NULL, budget_nusd INTEGER NOT NULL, created_at REAL NOT NULL);
INSERT INTO nodes VALUES ('n1', 'h1', 'pk1', 1.0);
INSERT INTO devices VALUES ('d1', 'n1', 'owner', 1.0, NULL);
INSERT INTO tokens VALUES ('at1', 'at', 'd1', 'fam', 4102444800.0, 0, 1);
INSERT INTO accounts VALUES ('n1', 'relay-monthly', 'past_due', 5.0, 42, 1.0);
"""


async def _make_unversioned(engine: Engine) -> None:
    """Write the old tables into the engine's database, as that release left them."""
    if engine.name == "sqlite":
        db = sqlite3.connect(engine.where)
        db.executescript(_UNVERSIONED_SQLITE)
        db.close()
        return
    conn = await asyncpg.connect(engine.where)
    await conn.execute(
        _UNVERSIONED_SQLITE.replace("REAL", "DOUBLE PRECISION")
        .replace("INTEGER NOT NULL DEFAULT 0", "BOOLEAN NOT NULL DEFAULT FALSE")
        .replace("budget_nusd INTEGER", "budget_nusd BIGINT")
        .replace("4102444800.0, 0, 1", "4102444800.0, FALSE, TRUE")
    )
    await conn.close()


async def test_a_database_from_before_versions_opens_and_is_migrated(engine: Engine) -> None:
    await _make_unversioned(engine)
    store = await engine.open()
    assert await store.node_by_credential("h1") == NodeRow(node_id="n1", public_key="pk1")
    assert await store.device("d1") == DeviceRow(node_id="n1", role="owner", revoked=False)
    token = await store.token("at1")
    assert token is not None and token.revoked is True and token.replaced is False
    account = await store.ensure_account("n1", "x", "active", 0)
    assert (account.status, account.budget_nusd) == ("past_due", 42)
    # The tables it lacked were created, and the database is now at the current version.
    await store.add_pairing("p1", "n1", "v", "guest", time.time() + 60)
    assert await store.remember_webhook_event("evt")
    await store.set_push("d1", "n1", ("https://push.example/1", "p", "a"))
    assert [r.device_id for r in await store.pushes("n1")] == ["d1"]
    assert await store._db.fetchval(schema.CURRENT_VERSION) == schema.VERSION


async def test_a_database_from_a_newer_relay_is_refused(engine: Engine) -> None:
    store = await engine.open()
    await store._db.execute("INSERT INTO schema_version VALUES ($1)", schema.VERSION + 1)
    await store.close()
    with pytest.raises(schema.SchemaTooNew):
        await engine.open()


async def test_push_subscriptions_one_per_device_gone_with_the_device(store: RelayStore) -> None:
    for device, node in (("a", "n1"), ("b", "n1"), ("c", "n2")):
        await store.add_device(device, node, "owner")
    await store.set_push("a", "n1", ("https://push.example/1", "p1", "s1"))
    await store.set_push("a", "n1", ("https://push.example/2", "p2", "s2"))  # re-subscribed
    await store.set_push("b", "n1", ("https://push.example/3", "p3", "s3"))
    await store.set_push("c", "n2", ("https://push.example/4", "p4", "s4"))
    assert sorted(
        (r.device_id, r.endpoint, r.p256dh, r.auth) for r in await store.pushes("n1")
    ) == [
        ("a", "https://push.example/2", "p2", "s2"),
        ("b", "https://push.example/3", "p3", "s3"),
    ]
    await store.remove_push("a", "https://push.example/1")  # a stale endpoint: kept
    assert len(await store.pushes("n1")) == 2
    await store.remove_push("a")
    await store.revoke_device("b")
    assert await store.pushes("n1") == []
    assert [r.device_id for r in await store.pushes("n2")] == ["c"]


async def test_storage_is_sampled_once_an_hour_and_summed_by_month(store: RelayStore) -> None:
    assert await store.record_storage("acct", 500_000, "2026-11", 7)
    assert not await store.record_storage("acct", 500_000, "2026-11", 9), "one sample an hour"
    assert await store.record_storage("acct", 500_001, "2026-11", 5)
    assert await store.record_storage("acct", 499_000, "2026-10", 100)
    assert await store.record_storage("other", 500_000, "2026-11", 1000)
    assert await store.storage_month("acct", "2026-11") == (12, 2)
    assert await store.storage_month("acct", "2026-09") == (0, 0)


async def test_the_statement_bills_backup_storage_per_gb_month(store: RelayStore) -> None:
    """1 GB kept for half of November (360 of its 720 hours) at $0.05 per GB-month."""
    from datetime import UTC, datetime

    from relay_server.billing import Billing
    from relay_server.settings import RelaySettings

    billing = Billing(store, RelaySettings(plan_price_usd=5.0, backup_price_usd_per_gb_month=0.05))
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    for hour in range(360):
        assert await billing.record_storage("acct", 10**9, start + hour * 3600 + 1)
        # A second instance sampling the same hour (with more bytes) is not billed again.
        assert not await billing.record_storage("acct", 5 * 10**9, start + hour * 3600 + 2)
    november = await billing.statement("acct", "2026-11")
    storage = [line for line in november["lines"] if line["kind"] == "storage"]
    assert storage == [
        {
            "kind": "storage",
            "description": "encrypted backup storage",
            "gb_months": "0.500000",
            "hours_sampled": 360,
            "price_usd_per_gb_month": "0.050000000",
            "amount_usd": "0.025000000",
        }
    ]
    assert november["totals"]["storage_usd"] == "0.025000000"
    assert november["totals"]["total_usd"] == "5.025000000"
    october = await billing.statement("acct", "2026-10")
    assert [line["kind"] for line in october["lines"]] == ["subscription"]
    assert october["totals"]["storage_usd"] == "0.000000000"
    assert october["totals"]["total_usd"] == "5.000000000"
