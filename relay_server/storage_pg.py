"""PostgreSQL storage for several Relay instances (asyncpg). Same interface as SqliteStore."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from relay_server.storage import HELD_SQL, PUSHES_SQL, USAGE_COLUMNS, AccountRow, TokenRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY, credential_hash TEXT UNIQUE NOT NULL, public_key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, role TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL, family_id TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, replaced BOOLEAN NOT NULL DEFAULT FALSE,
    revoked BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX IF NOT EXISTS tokens_family ON tokens(family_id);
CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device_id);
CREATE TABLE IF NOT EXISTS pairings (
    pairing_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, verifier TEXT NOT NULL, role TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, event TEXT NOT NULL, node_id TEXT,
    device_id TEXT, source TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY, plan TEXT NOT NULL, status TEXT NOT NULL,
    status_at DOUBLE PRECISION NOT NULL, budget_nusd BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS usage_events (
    account_id TEXT NOT NULL, request_id TEXT NOT NULL, device_id TEXT NOT NULL, month TEXT NOT NULL,
    state TEXT NOT NULL, claimed_at DOUBLE PRECISION NOT NULL, billed_at DOUBLE PRECISION,
    model TEXT, tokens_in INTEGER, tokens_out INTEGER, cost_nusd BIGINT NOT NULL DEFAULT 0,
    outcome TEXT, reserved_nusd BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (account_id, request_id));
CREATE INDEX IF NOT EXISTS usage_month ON usage_events(account_id, month);
CREATE TABLE IF NOT EXISTS webhook_events (
    event_id TEXT PRIMARY KEY, received_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS push_subscriptions (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, endpoint TEXT NOT NULL, p256dh TEXT NOT NULL,
    auth TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
"""
_SCHEMA_LOCK = 0x0A5E1A7  # advisory lock: two instances starting together create tables once


def _changed(status: str) -> bool:
    """Did an UPDATE touch exactly one row ('UPDATE 1')?"""
    return status.split()[-1] == "1"


class PostgresStore:
    """The shared store of a Relay cluster."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresStore:
        """Open a pool and make sure the tables exist."""
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, command_timeout=10)
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", _SCHEMA_LOCK)
            try:
                await conn.execute(_SCHEMA)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _SCHEMA_LOCK)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> bool:
        return bool(await self._pool.fetchval("SELECT 1") == 1)

    async def add_node(self, node_id: str, credential_hash: str, public_key: str) -> None:
        await self._pool.execute(
            "INSERT INTO nodes VALUES ($1,$2,$3,$4)",
            node_id,
            credential_hash,
            public_key,
            time.time(),
        )

    async def node_by_credential(self, credential_hash: str) -> tuple[str, str] | None:
        row = await self._pool.fetchrow(
            "SELECT node_id, public_key FROM nodes WHERE credential_hash=$1", credential_hash
        )
        return (row["node_id"], row["public_key"]) if row else None

    async def node_public_key(self, node_id: str) -> str | None:
        value = await self._pool.fetchval("SELECT public_key FROM nodes WHERE node_id=$1", node_id)
        return str(value) if value is not None else None

    async def add_device(self, device_id: str, node_id: str, role: str) -> None:
        await self._pool.execute(
            "INSERT INTO devices VALUES ($1,$2,$3,$4,NULL)", device_id, node_id, role, time.time()
        )

    async def device(self, device_id: str) -> tuple[str, str, bool] | None:
        row = await self._pool.fetchrow(
            "SELECT node_id, role, revoked_at FROM devices WHERE device_id=$1", device_id
        )
        return (row["node_id"], row["role"], row["revoked_at"] is not None) if row else None

    async def revoke_device(self, device_id: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE devices SET revoked_at=$1 WHERE device_id=$2 AND revoked_at IS NULL",
                time.time(),
                device_id,
            )
            await conn.execute("UPDATE tokens SET revoked=TRUE WHERE device_id=$1", device_id)
            await conn.execute("DELETE FROM push_subscriptions WHERE device_id=$1", device_id)

    async def add_token(
        self, token_hash: str, kind: str, device_id: str, family_id: str, expires_at: float
    ) -> None:
        await self._pool.execute(
            "INSERT INTO tokens VALUES ($1,$2,$3,$4,$5,FALSE,FALSE)",
            token_hash,
            kind,
            device_id,
            family_id,
            expires_at,
        )

    async def token(self, token_hash: str) -> TokenRow | None:
        row = await self._pool.fetchrow("SELECT * FROM tokens WHERE token_hash=$1", token_hash)
        if row is None:
            return None
        return TokenRow(
            token_hash=row["token_hash"],
            kind=row["kind"],
            device_id=row["device_id"],
            family_id=row["family_id"],
            expires_at=row["expires_at"],
            replaced=row["replaced"],
            revoked=row["revoked"],
        )

    async def mark_replaced(self, token_hash: str) -> bool:
        status = await self._pool.execute(
            "UPDATE tokens SET replaced=TRUE WHERE token_hash=$1 AND replaced=FALSE", token_hash
        )
        return _changed(status)

    async def retire_access_tokens(self, family_id: str) -> None:
        await self._pool.execute(
            "UPDATE tokens SET replaced=TRUE WHERE family_id=$1 AND kind='at'", family_id
        )

    async def revoke_family(self, family_id: str) -> None:
        await self._pool.execute("UPDATE tokens SET revoked=TRUE WHERE family_id=$1", family_id)

    async def add_pairing(
        self, pairing_id: str, node_id: str, verifier: str, role: str, expires_at: float
    ) -> None:
        await self._pool.execute(
            "INSERT INTO pairings VALUES ($1,$2,$3,$4,$5,0,'open')",
            pairing_id,
            node_id,
            verifier,
            role,
            expires_at,
        )

    async def pairing(self, pairing_id: str) -> tuple[str, str, str, float, int, str] | None:
        row = await self._pool.fetchrow(
            "SELECT node_id, verifier, role, expires_at, attempts, state FROM pairings "
            "WHERE pairing_id=$1",
            pairing_id,
        )
        if row is None:
            return None
        return (
            row["node_id"],
            row["verifier"],
            row["role"],
            row["expires_at"],
            row["attempts"],
            row["state"],
        )

    async def count_failed_attempt(self, pairing_id: str, lock_at: int) -> int:
        # One statement, so two instances counting at once cannot both miss the lock.
        attempts = await self._pool.fetchval(
            "UPDATE pairings SET attempts = attempts + 1, state = CASE "
            "WHEN attempts + 1 >= $2 AND state = 'open' THEN 'locked' ELSE state END "
            "WHERE pairing_id=$1 RETURNING attempts",
            pairing_id,
            lock_at,
        )
        return int(attempts or 0)

    async def claim_pairing(self, pairing_id: str) -> bool:
        status = await self._pool.execute(
            "UPDATE pairings SET state='claimed' WHERE pairing_id=$1 AND state='open'", pairing_id
        )
        return _changed(status)

    async def set_pairing_state(self, pairing_id: str, state: str) -> None:
        await self._pool.execute(
            "UPDATE pairings SET state=$1 WHERE pairing_id=$2", state, pairing_id
        )

    async def audit(
        self,
        event: str,
        *,
        node_id: str = "",
        device_id: str = "",
        source: str = "",
        detail: str = "",
    ) -> None:
        await self._pool.execute(
            "INSERT INTO audit (ts, event, node_id, device_id, source, detail) "
            "VALUES ($1,$2,$3,$4,$5,$6)",
            time.time(),
            event,
            node_id,
            device_id,
            source,
            detail,
        )

    async def audit_rows(self, event: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT ts, event, node_id, device_id, source, detail FROM audit"
        rows = (
            await self._pool.fetch(sql + " WHERE event=$1 ORDER BY id", event)
            if event
            else await self._pool.fetch(sql + " ORDER BY id")
        )
        return [dict(r) for r in rows]

    # billing ledger: every write is one statement, so concurrent workers and Relay instances
    # rely on PostgreSQL's row locks and unique keys, not on anything held in a process.
    async def ensure_account(
        self, account_id: str, plan: str, status: str, budget_nusd: int
    ) -> AccountRow:
        await self._pool.execute(
            "INSERT INTO accounts VALUES ($1,$2,$3,0,$4,$5) ON CONFLICT DO NOTHING",
            account_id,
            plan,
            status,
            budget_nusd,
            time.time(),
        )
        row = await self._pool.fetchrow(
            "SELECT plan, status, status_at, budget_nusd FROM accounts WHERE account_id=$1",
            account_id,
        )
        return AccountRow(
            account_id=account_id,
            plan=row["plan"],
            status=row["status"],
            status_at=row["status_at"],
            budget_nusd=row["budget_nusd"],
        )

    async def set_account_status(self, account_id: str, status: str, at: float) -> bool:
        status_line = await self._pool.execute(
            "UPDATE accounts SET status=$1, status_at=$2 WHERE account_id=$3 AND status_at<=$2",
            status,
            at,
            account_id,
        )
        return _changed(status_line)

    async def set_account_budget(self, account_id: str, budget_nusd: int) -> None:
        await self._pool.execute(
            "UPDATE accounts SET budget_nusd=$1 WHERE account_id=$2", budget_nusd, account_id
        )

    async def claim_usage(
        self,
        account_id: str,
        request_id: str,
        device_id: str,
        month: str,
        budget_nusd: int,
        max_reserve_nusd: int,
        stale_before: float,
    ) -> tuple[str, int]:
        # The account row's lock serialises one account's claims across every Relay instance;
        # the primary key would still refuse a second row for the same request id.
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM accounts WHERE account_id=$1 FOR UPDATE", account_id)
            held = int(await conn.fetchval(HELD_SQL, account_id, month, stale_before))
            row = await conn.fetchrow(
                "SELECT state, claimed_at FROM usage_events WHERE account_id=$1 AND request_id=$2",
                account_id,
                request_id,
            )
            if row is not None and (row["state"] == "billed" or row["claimed_at"] >= stale_before):
                return "duplicate", max(0, budget_nusd - held)
            remaining = budget_nusd - held
            if remaining <= 0:
                return "exhausted", 0
            reserve = min(remaining, max_reserve_nusd)
            await conn.execute(
                "INSERT INTO usage_events (account_id, request_id, device_id, month, state, "
                "claimed_at, reserved_nusd) VALUES ($1,$2,$3,$4,'claimed',$5,$6) "
                "ON CONFLICT (account_id, request_id) DO UPDATE SET device_id=excluded.device_id, "
                "claimed_at=excluded.claimed_at, reserved_nusd=excluded.reserved_nusd "
                "WHERE usage_events.state='claimed'",
                account_id,
                request_id,
                device_id,
                month,
                time.time(),
                reserve,
            )
            return "granted", reserve

    async def bill_usage(
        self,
        account_id: str,
        request_id: str,
        *,
        model: str,
        tokens_in: int,
        tokens_out: int,
        cost_nusd: int,
        outcome: str,
    ) -> bool:
        status = await self._pool.execute(
            "UPDATE usage_events SET state='billed', billed_at=$1, model=$2, tokens_in=$3, "
            "tokens_out=$4, cost_nusd=$5, outcome=$6 "
            "WHERE account_id=$7 AND request_id=$8 AND state='claimed'",
            time.time(),
            model,
            tokens_in,
            tokens_out,
            cost_nusd,
            outcome,
            account_id,
            request_id,
        )
        return _changed(status)

    async def month_held(self, account_id: str, month: str, stale_before: float) -> int:
        return int(await self._pool.fetchval(HELD_SQL, account_id, month, stale_before))

    async def usage_rows(self, account_id: str, month: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_events "  # noqa: S608 (fixed columns)
            "WHERE account_id=$1 AND month=$2 ORDER BY claimed_at",
            account_id,
            month,
        )
        return [dict(r) for r in rows]

    async def remember_webhook_event(self, event_id: str) -> bool:
        status = await self._pool.execute(
            "INSERT INTO webhook_events VALUES ($1,$2) ON CONFLICT DO NOTHING",
            event_id,
            time.time(),
        )
        return status == "INSERT 0 1"

    async def set_push(self, device_id: str, node_id: str, sub: tuple[str, str, str]) -> None:
        await self._pool.execute(
            "INSERT INTO push_subscriptions VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (device_id) DO "
            "UPDATE SET node_id=$2, endpoint=$3, p256dh=$4, auth=$5, created_at=$6",
            device_id,
            node_id,
            *sub,
            time.time(),
        )

    async def pushes(self, node_id: str) -> list[tuple[str, str, str, str]]:
        rows = await self._pool.fetch(PUSHES_SQL, node_id)
        return [(r["device_id"], r["endpoint"], r["p256dh"], r["auth"]) for r in rows]

    async def remove_push(self, device_id: str, endpoint: str = "") -> None:
        await self._pool.execute(
            "DELETE FROM push_subscriptions WHERE device_id=$1 AND ($2='' OR endpoint=$2)",
            device_id,
            endpoint,
        )
