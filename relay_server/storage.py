"""What the Relay keeps: nodes, devices, token hashes, pairings, metadata audit, and the billing
ledger (accounts, subscription state, usage events, webhook event ids). Never content.

One store (`RelayStore`), each query written once, on either engine (`relay_server.sql_engines`):
SQLite, the embedded default for one process (`SqliteStore`), or PostgreSQL for several Relay
instances (`PostgresStore`). The tables and their versions are `relay_server.schema`. Rows
come back as the typed records of `relay_server.rows`. Every value that grants access is
stored only as a SHA-256 hash.
"""

from __future__ import annotations

import time
from pathlib import Path

from relay_server.rows import (
    AccountRow,
    AuditRow,
    DeviceRow,
    NodeRow,
    PairingRow,
    PushRow,
    TokenRow,
    UsageRow,
    columns,
    load,
)
from relay_server.sql_engines import Conflict as Conflict  # a duplicate key, on either engine
from relay_server.sql_engines import Database, PostgresDatabase, SqliteDatabase

# Money is kept as integer nano-dollars: one output token of a cheap model costs well under a
# micro-dollar, and integers add up exactly where floats drift.
NANO = 1_000_000_000

# What an account's month holds of its budget: what was billed, plus what in-flight requests
# reserved. A claim reserves up to a cap of the remaining budget, so concurrent requests (on
# any workers) can never together spend more than the budget; billing replaces the
# reservation with the real cost. A claim never billed within its lease (its worker died)
# holds nothing, and its request id may be claimed again.
HELD_SQL = (
    "SELECT COALESCE(SUM(CASE WHEN state='billed' THEN cost_nusd "
    "WHEN claimed_at >= $3 THEN reserved_nusd ELSE 0 END), 0) "
    "FROM usage_events WHERE account_id=$1 AND month=$2"
)


class RelayStore:
    """Every query the Relay makes, on whichever engine it was opened with."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> bool:
        """Readiness: can we query?"""
        return bool(await self._db.fetchval("SELECT 1") == 1)

    # nodes
    async def add_node(self, node_id: str, credential_hash: str, public_key: str) -> None:
        await self._db.execute(
            "INSERT INTO nodes (node_id, credential_hash, public_key, created_at) "
            "VALUES ($1,$2,$3,$4)",
            node_id,
            credential_hash,
            public_key,
            time.time(),
        )

    async def node_by_credential(self, credential_hash: str) -> NodeRow | None:
        row = await self._db.fetchrow(
            f"SELECT {columns(NodeRow)} FROM nodes WHERE credential_hash=$1",  # noqa: S608
            credential_hash,
        )
        return load(NodeRow, row)

    async def node_public_key(self, node_id: str) -> str | None:
        value = await self._db.fetchval("SELECT public_key FROM nodes WHERE node_id=$1", node_id)
        return str(value) if value is not None else None

    # devices
    async def add_device(self, device_id: str, node_id: str, role: str) -> None:
        await self._db.execute(
            "INSERT INTO devices (device_id, node_id, role, created_at) VALUES ($1,$2,$3,$4)",
            device_id,
            node_id,
            role,
            time.time(),
        )

    async def device(self, device_id: str) -> DeviceRow | None:
        row = await self._db.fetchrow(
            "SELECT node_id, role, revoked_at IS NOT NULL AS revoked FROM devices "
            "WHERE device_id=$1",
            device_id,
        )
        return load(DeviceRow, row)

    async def revoke_device(self, device_id: str) -> None:
        """The device and every token it holds, at once."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE devices SET revoked_at=$1 WHERE device_id=$2 AND revoked_at IS NULL",
                time.time(),
                device_id,
            )
            await tx.execute("UPDATE tokens SET revoked=TRUE WHERE device_id=$1", device_id)
            await tx.execute("DELETE FROM push_subscriptions WHERE device_id=$1", device_id)

    # tokens
    async def add_token(
        self, token_hash: str, kind: str, device_id: str, family_id: str, expires_at: float
    ) -> None:
        await self._db.execute(
            "INSERT INTO tokens (token_hash, kind, device_id, family_id, expires_at) "
            "VALUES ($1,$2,$3,$4,$5)",
            token_hash,
            kind,
            device_id,
            family_id,
            expires_at,
        )

    async def token(self, token_hash: str) -> TokenRow | None:
        row = await self._db.fetchrow(
            f"SELECT {columns(TokenRow)} FROM tokens WHERE token_hash=$1",  # noqa: S608
            token_hash,
        )
        return load(TokenRow, row)

    async def token_and_device(self, token_hash: str) -> tuple[TokenRow, DeviceRow | None] | None:
        """A token and the device it belongs to (None if that row is gone), in one query:
        every hello and renewal looks both up, twice when a hello rechecks after attaching."""
        row = await self._db.fetchrow(
            "SELECT t.token_hash, t.kind, t.device_id, t.family_id, t.expires_at, t.replaced, "
            "t.revoked, d.node_id, d.role, d.revoked_at IS NOT NULL AS device_revoked "
            "FROM tokens t LEFT JOIN devices d ON d.device_id = t.device_id "
            "WHERE t.token_hash=$1",
            token_hash,
        )
        token = load(TokenRow, row)
        if row is None or token is None:
            return None
        if row["node_id"] is None:
            return token, None
        device = DeviceRow(
            node_id=row["node_id"], role=row["role"], revoked=bool(row["device_revoked"])
        )
        return token, device

    async def mark_replaced(self, token_hash: str) -> bool:
        """Atomically retire a refresh token; False if it was already retired (reuse)."""
        changed = await self._db.execute(
            "UPDATE tokens SET replaced=TRUE WHERE token_hash=$1 AND replaced=FALSE", token_hash
        )
        return changed == 1

    async def retire_access_tokens(self, family_id: str) -> None:
        """A rotation ends the family's earlier access tokens at once."""
        await self._db.execute(
            "UPDATE tokens SET replaced=TRUE WHERE family_id=$1 AND kind='at'", family_id
        )

    async def revoke_family(self, family_id: str) -> None:
        await self._db.execute("UPDATE tokens SET revoked=TRUE WHERE family_id=$1", family_id)

    # pairings
    async def add_pairing(
        self, pairing_id: str, node_id: str, verifier: str, role: str, expires_at: float
    ) -> None:
        await self._db.execute(
            "INSERT INTO pairings (pairing_id, node_id, verifier, role, expires_at) "
            "VALUES ($1,$2,$3,$4,$5)",
            pairing_id,
            node_id,
            verifier,
            role,
            expires_at,
        )

    async def pairing(self, pairing_id: str) -> PairingRow | None:
        row = await self._db.fetchrow(
            f"SELECT {columns(PairingRow)} FROM pairings WHERE pairing_id=$1",  # noqa: S608
            pairing_id,
        )
        return load(PairingRow, row)

    async def count_failed_attempt(self, pairing_id: str, lock_at: int) -> int:
        """Count a wrong attempt; the one that reaches `lock_at` locks an open pairing."""
        # One statement, so two instances counting at once cannot both miss the lock.
        attempts = await self._db.fetchval(
            "UPDATE pairings SET attempts = attempts + 1, state = CASE "
            "WHEN attempts + 1 >= $2 AND state = 'open' THEN 'locked' ELSE state END "
            "WHERE pairing_id=$1 RETURNING attempts",
            pairing_id,
            lock_at,
        )
        return int(attempts or 0)

    async def claim_pairing(self, pairing_id: str) -> bool:
        """Atomically move an open pairing to 'claimed' (single use)."""
        changed = await self._db.execute(
            "UPDATE pairings SET state='claimed' WHERE pairing_id=$1 AND state='open'", pairing_id
        )
        return changed == 1

    async def set_pairing_state(self, pairing_id: str, state: str) -> None:
        await self._db.execute(
            "UPDATE pairings SET state=$1 WHERE pairing_id=$2", state, pairing_id
        )

    # audit
    async def audit(
        self,
        event: str,
        *,
        node_id: str = "",
        device_id: str = "",
        source: str = "",
        detail: str = "",
    ) -> None:
        await self._db.execute(
            "INSERT INTO audit (ts, event, node_id, device_id, source, detail) "
            "VALUES ($1,$2,$3,$4,$5,$6)",
            time.time(),
            event,
            node_id,
            device_id,
            source,
            detail,
        )

    async def audit_rows(self, event: str | None = None) -> list[AuditRow]:
        sql = f"SELECT {columns(AuditRow)} FROM audit"  # noqa: S608 (fixed columns)
        rows = (
            await self._db.fetch(sql + " WHERE event=$1 ORDER BY id", event)
            if event
            else await self._db.fetch(sql + " ORDER BY id")
        )
        return [AuditRow(**r) for r in rows]

    # billing ledger: every check-then-write is one transaction, so concurrent workers and
    # Relay instances rely on the database's locks and unique keys, not on a process's memory.
    async def ensure_account(
        self, account_id: str, plan: str, status: str, budget_nusd: int
    ) -> AccountRow:
        """The account, created with these defaults if it does not exist yet."""
        # Read first: every device's hello asks, and the account nearly always exists (one
        # query, no write transaction; accounts are never deleted, so a row read stays true).
        found = load(
            AccountRow,
            await self._db.fetchrow(
                f"SELECT {columns(AccountRow)} FROM accounts WHERE account_id=$1",  # noqa: S608
                account_id,
            ),
        )
        if found is not None:
            return found
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO accounts (account_id, plan, status, status_at, budget_nusd, "
                "created_at) VALUES ($1,$2,$3,0,$4,$5) ON CONFLICT DO NOTHING",
                account_id,
                plan,
                status,
                budget_nusd,
                time.time(),
            )
            row = await tx.fetchrow(
                f"SELECT {columns(AccountRow)} FROM accounts WHERE account_id=$1",  # noqa: S608
                account_id,
            )
        account = load(AccountRow, row)
        assert account is not None  # inserted above, and accounts are never deleted
        return account

    async def set_account_status(self, account_id: str, status: str, at: float) -> bool:
        """Set the subscription state unless a newer event already set it."""
        changed = await self._db.execute(
            "UPDATE accounts SET status=$1, status_at=$2 WHERE account_id=$3 AND status_at<=$2",
            status,
            at,
            account_id,
        )
        return changed == 1

    async def set_account_budget(self, account_id: str, budget_nusd: int) -> None:
        await self._db.execute(
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
        """Claim a request id and reserve budget for it, atomically: ("granted", reserved),
        ("duplicate", month's remaining) for an id billed or still running, or ("exhausted", 0).
        A claim older than `stale_before` and never billed is taken over."""
        async with self._db.transaction() as tx:
            # The account row's lock serialises one account's claims across every instance
            # (SQLite: the write transaction does); the primary key would still refuse a
            # second row for the same request id.
            await tx.execute(
                f"SELECT 1 FROM accounts WHERE account_id=$1{self._db.dialect.for_update}",  # noqa: S608
                account_id,
            )
            held = int(await tx.fetchval(HELD_SQL, account_id, month, stale_before))
            row = await tx.fetchrow(
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
            # Only a stale claim is taken over: a billed row is never rewritten by a claim
            # (the state check above already says so; this says it where the write is).
            await tx.execute(
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
        """Write the usage of a claimed request once; False if it was already billed."""
        changed = await self._db.execute(
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
        return changed == 1

    async def month_held(self, account_id: str, month: str, stale_before: float) -> int:
        """Billed plus reserved (in-flight) nano-dollars of the month."""
        return int(await self._db.fetchval(HELD_SQL, account_id, month, stale_before))

    async def usage_rows(self, account_id: str, month: str) -> list[UsageRow]:
        rows = await self._db.fetch(
            f"SELECT {columns(UsageRow)} FROM usage_events "  # noqa: S608 (fixed columns)
            "WHERE account_id=$1 AND month=$2 ORDER BY claimed_at",
            account_id,
            month,
        )
        return [UsageRow(**r) for r in rows]

    async def remember_webhook_event(self, event_id: str) -> bool:
        """Record a payment-provider event id; False if it was seen before (a replay)."""
        changed = await self._db.execute(
            "INSERT INTO webhook_events (event_id, received_at) VALUES ($1,$2) "
            "ON CONFLICT DO NOTHING",
            event_id,
            time.time(),
        )
        return changed == 1

    # backup storage: bytes an account keeps at the service, sampled hourly (billing.py)
    async def record_storage(self, account_id: str, hour: int, month: str, size: int) -> bool:
        """The account's stored bytes in `hour` (unix hours); False if that hour has one."""
        changed = await self._db.execute(
            "INSERT INTO storage_samples (account_id, hour, month, bytes) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT DO NOTHING",
            account_id,
            hour,
            month,
            size,
        )
        return changed == 1

    async def storage_month(self, account_id: str, month: str) -> tuple[int, int]:
        """(byte-hours, sampled hours) of the account's backup storage in the month."""
        row = await self._db.fetchrow(
            "SELECT COALESCE(SUM(bytes), 0) AS byte_hours, COUNT(*) AS hours "
            "FROM storage_samples WHERE account_id=$1 AND month=$2",
            account_id,
            month,
        )
        assert row is not None
        return int(row["byte_hours"]), int(row["hours"])

    # push subscriptions: (endpoint, p256dh, auth) of a device's browser, one per device
    async def set_push(self, device_id: str, node_id: str, sub: tuple[str, str, str]) -> None:
        endpoint, p256dh, auth = sub
        await self._db.execute(
            "INSERT INTO push_subscriptions (device_id, node_id, endpoint, p256dh, auth, "
            "created_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (device_id) DO UPDATE SET "
            "node_id=excluded.node_id, endpoint=excluded.endpoint, p256dh=excluded.p256dh, "
            "auth=excluded.auth, created_at=excluded.created_at",
            device_id,
            node_id,
            endpoint,
            p256dh,
            auth,
            time.time(),
        )

    async def pushes(self, node_id: str) -> list[PushRow]:
        """The subscriptions of the Node's devices not revoked."""
        rows = await self._db.fetch(
            "SELECT p.device_id, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p "
            "JOIN devices d ON d.device_id=p.device_id "
            "WHERE p.node_id=$1 AND d.revoked_at IS NULL",
            node_id,
        )
        return [PushRow(**r) for r in rows]

    async def remove_push(self, device_id: str, endpoint: str = "") -> None:
        """Forget a device's subscription (only if still `endpoint`, when given)."""
        await self._db.execute(
            "DELETE FROM push_subscriptions WHERE device_id=$1 AND ($2='' OR endpoint=$2)",
            device_id,
            endpoint,
        )


class SqliteStore(RelayStore):
    """The embedded store: one SQLite file, for one Relay process."""

    def __init__(self, path: Path) -> None:
        super().__init__(SqliteDatabase(path))


class PostgresStore(RelayStore):
    """The shared store of a Relay cluster."""

    @classmethod
    async def connect(cls, dsn: str) -> PostgresStore:
        """Open a pool and migrate the schema forward."""
        return cls(await PostgresDatabase.connect(dsn))
