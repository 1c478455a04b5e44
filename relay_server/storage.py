"""What the Relay keeps: nodes, devices, token hashes, pairings, metadata audit, and the billing
ledger (accounts, subscription state, usage events, webhook event ids). Never content.

One async interface (`RelayStore`) with two engines: SQLite, the embedded default for one
process, and PostgreSQL (relay_server.storage_pg) for several Relay instances. Every value
that grants access is stored only as a SHA-256 hash.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, kw_only=True)
class TokenRow:
    """A stored token (by hash)."""

    token_hash: str
    kind: str
    device_id: str
    family_id: str
    expires_at: float
    replaced: bool
    revoked: bool


@dataclass(frozen=True, kw_only=True)
class AccountRow:
    """A billing account (one per Node owner; its id is the Node's id)."""

    account_id: str
    plan: str
    status: str  # active | past_due | cancelled
    status_at: float  # time of the event that set the status (older events never win)
    budget_nusd: int  # monthly Cloud budget, in billionths of a US dollar


# Money is kept as integer nano-dollars: one output token of a cheap model costs well under a
# micro-dollar, and integers add up exactly where floats drift.
NANO = 1_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY, credential_hash TEXT UNIQUE NOT NULL, public_key TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, role TEXT NOT NULL, created_at REAL NOT NULL,
    revoked_at REAL);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL, family_id TEXT NOT NULL,
    expires_at REAL NOT NULL, replaced INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tokens_family ON tokens(family_id);
CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device_id);
CREATE TABLE IF NOT EXISTS pairings (
    pairing_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, verifier TEXT NOT NULL, role TEXT NOT NULL,
    expires_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, event TEXT NOT NULL, node_id TEXT,
    device_id TEXT, source TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY, plan TEXT NOT NULL, status TEXT NOT NULL, status_at REAL NOT NULL,
    budget_nusd INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS usage_events (
    account_id TEXT NOT NULL, request_id TEXT NOT NULL, device_id TEXT NOT NULL, month TEXT NOT NULL,
    state TEXT NOT NULL, claimed_at REAL NOT NULL, billed_at REAL, model TEXT, tokens_in INTEGER,
    tokens_out INTEGER, cost_nusd INTEGER NOT NULL DEFAULT 0, outcome TEXT,
    reserved_nusd INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (account_id, request_id));
CREATE INDEX IF NOT EXISTS usage_month ON usage_events(account_id, month);
CREATE TABLE IF NOT EXISTS webhook_events (event_id TEXT PRIMARY KEY, received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS push_subscriptions (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, endpoint TEXT NOT NULL, p256dh TEXT NOT NULL,
    auth TEXT NOT NULL, created_at REAL NOT NULL);
"""


class RelayStore(Protocol):
    """What every storage engine provides."""

    async def close(self) -> None: ...
    async def ping(self) -> bool: ...
    async def add_node(self, node_id: str, credential_hash: str, public_key: str) -> None: ...
    async def node_by_credential(self, credential_hash: str) -> tuple[str, str] | None: ...
    async def node_public_key(self, node_id: str) -> str | None: ...
    async def add_device(self, device_id: str, node_id: str, role: str) -> None: ...
    async def device(self, device_id: str) -> tuple[str, str, bool] | None: ...
    async def revoke_device(self, device_id: str) -> None: ...
    async def add_token(
        self, token_hash: str, kind: str, device_id: str, family_id: str, expires_at: float
    ) -> None: ...
    async def token(self, token_hash: str) -> TokenRow | None: ...
    async def mark_replaced(self, token_hash: str) -> bool: ...
    async def retire_access_tokens(self, family_id: str) -> None: ...
    async def revoke_family(self, family_id: str) -> None: ...
    async def add_pairing(
        self, pairing_id: str, node_id: str, verifier: str, role: str, expires_at: float
    ) -> None: ...
    async def pairing(self, pairing_id: str) -> tuple[str, str, str, float, int, str] | None: ...
    async def count_failed_attempt(self, pairing_id: str, lock_at: int) -> int: ...
    async def claim_pairing(self, pairing_id: str) -> bool: ...
    async def set_pairing_state(self, pairing_id: str, state: str) -> None: ...
    async def audit(
        self,
        event: str,
        *,
        node_id: str = "",
        device_id: str = "",
        source: str = "",
        detail: str = "",
    ) -> None: ...
    async def audit_rows(self, event: str | None = None) -> list[dict[str, Any]]: ...
    async def ensure_account(
        self, account_id: str, plan: str, status: str, budget_nusd: int
    ) -> AccountRow: ...
    async def set_account_status(self, account_id: str, status: str, at: float) -> bool: ...
    async def set_account_budget(self, account_id: str, budget_nusd: int) -> None: ...
    async def claim_usage(
        self,
        account_id: str,
        request_id: str,
        device_id: str,
        month: str,
        budget_nusd: int,
        max_reserve_nusd: int,
        stale_before: float,
    ) -> tuple[str, int]: ...
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
    ) -> bool: ...
    async def month_held(self, account_id: str, month: str, stale_before: float) -> int: ...
    async def usage_rows(self, account_id: str, month: str) -> list[dict[str, Any]]: ...
    async def remember_webhook_event(self, event_id: str) -> bool: ...
    async def set_push(self, device_id: str, node_id: str, sub: tuple[str, str, str]) -> None: ...
    async def pushes(self, node_id: str) -> list[tuple[str, str, str, str]]: ...
    async def remove_push(self, device_id: str, endpoint: str = "") -> None: ...


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

USAGE_COLUMNS = (
    "request_id",
    "device_id",
    "state",
    "claimed_at",
    "billed_at",
    "model",
    "tokens_in",
    "tokens_out",
    "cost_nusd",
    "outcome",
)


PUSHES_SQL = """SELECT p.device_id, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p
JOIN devices d ON d.device_id=p.device_id WHERE p.node_id=$1 AND d.revoked_at IS NULL"""


class SqliteStore:
    """The embedded store; calls are local, short and serialised by one lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL cannot corrupt the database; it may lose the last commits
        # on a power cut (not on a crash of the Relay). FULL fsyncs every commit, ~2 ms on the
        # Cloud claim's path; the embedded store is for one machine, PostgreSQL for production.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    async def close(self) -> None:
        """Close the database."""
        self._conn.close()

    async def ping(self) -> bool:
        """Readiness: can we query?"""
        return self._exec("SELECT 1") == [(1,)]

    # nodes
    async def add_node(self, node_id: str, credential_hash: str, public_key: str) -> None:
        self._exec(
            "INSERT INTO nodes VALUES (?,?,?,?)",
            (node_id, credential_hash, public_key, time.time()),
        )

    async def node_by_credential(self, credential_hash: str) -> tuple[str, str] | None:
        rows = self._exec(
            "SELECT node_id, public_key FROM nodes WHERE credential_hash=?", (credential_hash,)
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def node_public_key(self, node_id: str) -> str | None:
        rows = self._exec("SELECT public_key FROM nodes WHERE node_id=?", (node_id,))
        return str(rows[0][0]) if rows else None

    # devices
    async def add_device(self, device_id: str, node_id: str, role: str) -> None:
        self._exec(
            "INSERT INTO devices VALUES (?,?,?,?,NULL)", (device_id, node_id, role, time.time())
        )

    async def device(self, device_id: str) -> tuple[str, str, bool] | None:
        """(node_id, role, revoked) of a device."""
        rows = self._exec(
            "SELECT node_id, role, revoked_at FROM devices WHERE device_id=?", (device_id,)
        )
        return (str(rows[0][0]), str(rows[0][1]), rows[0][2] is not None) if rows else None

    async def revoke_device(self, device_id: str) -> None:
        self._exec(
            "UPDATE devices SET revoked_at=? WHERE device_id=? AND revoked_at IS NULL",
            (time.time(), device_id),
        )
        self._exec("UPDATE tokens SET revoked=1 WHERE device_id=?", (device_id,))
        self._exec("DELETE FROM push_subscriptions WHERE device_id=?", (device_id,))

    # tokens
    async def add_token(
        self, token_hash: str, kind: str, device_id: str, family_id: str, expires_at: float
    ) -> None:
        self._exec(
            "INSERT INTO tokens VALUES (?,?,?,?,?,0,0)",
            (token_hash, kind, device_id, family_id, expires_at),
        )

    async def token(self, token_hash: str) -> TokenRow | None:
        rows = self._exec("SELECT * FROM tokens WHERE token_hash=?", (token_hash,))
        if not rows:
            return None
        h, kind, dev, fam, exp, replaced, revoked = rows[0]
        return TokenRow(
            token_hash=h,
            kind=kind,
            device_id=dev,
            family_id=fam,
            expires_at=exp,
            replaced=bool(replaced),
            revoked=bool(revoked),
        )

    async def mark_replaced(self, token_hash: str) -> bool:
        """Atomically retire a refresh token; False if it was already retired (reuse)."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE tokens SET replaced=1 WHERE token_hash=? AND replaced=0", (token_hash,)
            )
            return cur.rowcount == 1

    async def retire_access_tokens(self, family_id: str) -> None:
        """A rotation ends the family's earlier access tokens at once."""
        self._exec("UPDATE tokens SET replaced=1 WHERE family_id=? AND kind='at'", (family_id,))

    async def revoke_family(self, family_id: str) -> None:
        self._exec("UPDATE tokens SET revoked=1 WHERE family_id=?", (family_id,))

    # pairings
    async def add_pairing(
        self, pairing_id: str, node_id: str, verifier: str, role: str, expires_at: float
    ) -> None:
        self._exec(
            "INSERT INTO pairings VALUES (?,?,?,?,?,0,'open')",
            (pairing_id, node_id, verifier, role, expires_at),
        )

    async def pairing(self, pairing_id: str) -> tuple[str, str, str, float, int, str] | None:
        """(node_id, verifier, role, expires_at, attempts, state)."""
        rows = self._exec(
            "SELECT node_id, verifier, role, expires_at, attempts, state FROM pairings WHERE pairing_id=?",
            (pairing_id,),
        )
        if not rows:
            return None
        n, v, r, e, a, s = rows[0]
        return str(n), str(v), str(r), float(e), int(a), str(s)

    async def count_failed_attempt(self, pairing_id: str, lock_at: int) -> int:
        with self._lock:
            self._conn.execute(
                "UPDATE pairings SET attempts = attempts + 1 WHERE pairing_id=?", (pairing_id,)
            )
            self._conn.execute(
                "UPDATE pairings SET state='locked' WHERE pairing_id=? AND attempts >= ? AND state='open'",
                (pairing_id, lock_at),
            )
            row = self._conn.execute(
                "SELECT attempts FROM pairings WHERE pairing_id=?", (pairing_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    async def claim_pairing(self, pairing_id: str) -> bool:
        """Atomically move an open pairing to 'claimed' (single use)."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE pairings SET state='claimed' WHERE pairing_id=? AND state='open'",
                (pairing_id,),
            )
            return cur.rowcount == 1

    async def set_pairing_state(self, pairing_id: str, state: str) -> None:
        self._exec("UPDATE pairings SET state=? WHERE pairing_id=?", (state, pairing_id))

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
        self._exec(
            "INSERT INTO audit (ts, event, node_id, device_id, source, detail) VALUES (?,?,?,?,?,?)",
            (time.time(), event, node_id, device_id, source, detail),
        )

    async def audit_rows(self, event: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT ts, event, node_id, device_id, source, detail FROM audit"
        rows = (
            self._exec(sql + " WHERE event=? ORDER BY id", (event,))
            if event
            else self._exec(sql + " ORDER BY id")
        )
        keys = ("ts", "event", "node_id", "device_id", "source", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # billing ledger
    async def ensure_account(
        self, account_id: str, plan: str, status: str, budget_nusd: int
    ) -> AccountRow:
        """The account, created with these defaults if it does not exist yet."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO accounts VALUES (?,?,?,0,?,?) ON CONFLICT DO NOTHING",
                (account_id, plan, status, budget_nusd, time.time()),
            )
            row = self._conn.execute(
                "SELECT plan, status, status_at, budget_nusd FROM accounts WHERE account_id=?",
                (account_id,),
            ).fetchone()
        return AccountRow(
            account_id=account_id,
            plan=str(row[0]),
            status=str(row[1]),
            status_at=float(row[2]),
            budget_nusd=int(row[3]),
        )

    async def set_account_status(self, account_id: str, status: str, at: float) -> bool:
        """Set the subscription state unless a newer event already set it."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE accounts SET status=?, status_at=? WHERE account_id=? AND status_at<=?",
                (status, at, account_id, at),
            )
            return cur.rowcount == 1

    async def set_account_budget(self, account_id: str, budget_nusd: int) -> None:
        self._exec(
            "UPDATE accounts SET budget_nusd=? WHERE account_id=?", (budget_nusd, account_id)
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
        with self._lock:
            held = self._held(account_id, month, stale_before)
            row = self._conn.execute(
                "SELECT state, claimed_at FROM usage_events WHERE account_id=? AND request_id=?",
                (account_id, request_id),
            ).fetchone()
            if row is not None and (row[0] == "billed" or row[1] >= stale_before):
                return "duplicate", max(0, budget_nusd - held)
            remaining = budget_nusd - held
            if remaining <= 0:
                return "exhausted", 0
            reserve = min(remaining, max_reserve_nusd)
            self._conn.execute(
                "INSERT INTO usage_events (account_id, request_id, device_id, month, state, "
                "claimed_at, reserved_nusd) VALUES (?,?,?,?,'claimed',?,?) "
                "ON CONFLICT (account_id, request_id) DO UPDATE SET device_id=excluded.device_id, "
                "claimed_at=excluded.claimed_at, reserved_nusd=excluded.reserved_nusd",
                (account_id, request_id, device_id, month, time.time(), reserve),
            )
            return "granted", reserve

    def _held(self, account_id: str, month: str, stale_before: float) -> int:
        sql = HELD_SQL.replace("$", "?")  # SQLite's numbered ?NNN: same order as PostgreSQL
        return int(self._conn.execute(sql, (account_id, month, stale_before)).fetchone()[0])

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
        with self._lock:
            cur = self._conn.execute(
                "UPDATE usage_events SET state='billed', billed_at=?, model=?, tokens_in=?, "
                "tokens_out=?, cost_nusd=?, outcome=? "
                "WHERE account_id=? AND request_id=? AND state='claimed'",
                (
                    time.time(),
                    model,
                    tokens_in,
                    tokens_out,
                    cost_nusd,
                    outcome,
                    account_id,
                    request_id,
                ),
            )
            return cur.rowcount == 1

    async def month_held(self, account_id: str, month: str, stale_before: float) -> int:
        """Billed plus reserved (in-flight) nano-dollars of the month."""
        with self._lock:
            return self._held(account_id, month, stale_before)

    async def usage_rows(self, account_id: str, month: str) -> list[dict[str, Any]]:
        rows = self._exec(
            f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_events "  # noqa: S608 (fixed columns)
            "WHERE account_id=? AND month=? ORDER BY claimed_at",
            (account_id, month),
        )
        return [dict(zip(USAGE_COLUMNS, r, strict=True)) for r in rows]

    async def remember_webhook_event(self, event_id: str) -> bool:
        """Record a payment-provider event id; False if it was seen before (a replay)."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO webhook_events VALUES (?,?) ON CONFLICT DO NOTHING",
                (event_id, time.time()),
            )
            return cur.rowcount == 1

    # push subscriptions: (endpoint, p256dh, auth) of a device's browser, one per device
    async def set_push(self, device_id: str, node_id: str, sub: tuple[str, str, str]) -> None:
        self._exec(
            "INSERT OR REPLACE INTO push_subscriptions VALUES (?,?,?,?,?,?)",
            (device_id, node_id, *sub, time.time()),
        )

    async def pushes(self, node_id: str) -> list[tuple[str, str, str, str]]:
        """(device id, endpoint, p256dh, auth) of the Node's devices not revoked."""
        rows = self._exec(PUSHES_SQL.replace("$1", "?"), (node_id,))
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    async def remove_push(self, device_id: str, endpoint: str = "") -> None:
        """Forget a device's subscription (only if still `endpoint`, when given)."""
        self._exec(
            "DELETE FROM push_subscriptions WHERE device_id=? AND (?='' OR endpoint=?)",
            (device_id, endpoint, endpoint),
        )
