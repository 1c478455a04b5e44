"""The Relay's tables, written once for both engines, and their versions migrated forward.

`MIGRATIONS[n - 1]` takes a database from version n-1 to n; `schema_version` holds the version
a database is at. Version 1 is the schema the Relay made before versions were kept: its
statements say IF NOT EXISTS, so such a database is adopted as it is. A change to the tables
is a new migration appended here (never an edit of an old one), and every engine runs it.

Column types differ by engine only where the engines spell them differently (`Dialect`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Dialect:
    """How an engine spells what the schema and a few queries need."""

    name: str
    real: str  # a float column
    bigint: str  # nano-dollars
    boolean: str
    false: str  # the boolean columns' default
    serial_pk: str  # an auto-increment primary key
    for_update: str  # appended to a SELECT that locks its row until the transaction ends


SQLITE = Dialect(
    name="sqlite",
    real="REAL",
    bigint="INTEGER",
    boolean="INTEGER",
    false="0",
    serial_pk="INTEGER PRIMARY KEY AUTOINCREMENT",
    for_update="",  # a write transaction (BEGIN IMMEDIATE) already excludes every other writer
)
POSTGRES = Dialect(
    name="postgresql",
    real="DOUBLE PRECISION",
    bigint="BIGINT",
    boolean="BOOLEAN",
    false="FALSE",
    serial_pk="BIGSERIAL PRIMARY KEY",
    for_update=" FOR UPDATE",
)

_V1 = """
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY, credential_hash TEXT UNIQUE NOT NULL, public_key TEXT NOT NULL,
    created_at {real} NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, role TEXT NOT NULL,
    created_at {real} NOT NULL, revoked_at {real});
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, device_id TEXT NOT NULL,
    family_id TEXT NOT NULL, expires_at {real} NOT NULL,
    replaced {boolean} NOT NULL DEFAULT {false}, revoked {boolean} NOT NULL DEFAULT {false});
CREATE INDEX IF NOT EXISTS tokens_family ON tokens(family_id);
CREATE INDEX IF NOT EXISTS tokens_device ON tokens(device_id);
CREATE TABLE IF NOT EXISTS pairings (
    pairing_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, verifier TEXT NOT NULL,
    role TEXT NOT NULL, expires_at {real} NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS audit (
    id {serial_pk}, ts {real} NOT NULL, event TEXT NOT NULL, node_id TEXT,
    device_id TEXT, source TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY, plan TEXT NOT NULL, status TEXT NOT NULL,
    status_at {real} NOT NULL, budget_nusd {bigint} NOT NULL, created_at {real} NOT NULL);
CREATE TABLE IF NOT EXISTS usage_events (
    account_id TEXT NOT NULL, request_id TEXT NOT NULL, device_id TEXT NOT NULL,
    month TEXT NOT NULL, state TEXT NOT NULL, claimed_at {real} NOT NULL, billed_at {real},
    model TEXT, tokens_in INTEGER, tokens_out INTEGER, cost_nusd {bigint} NOT NULL DEFAULT 0,
    outcome TEXT, reserved_nusd {bigint} NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, request_id));
CREATE INDEX IF NOT EXISTS usage_month ON usage_events(account_id, month);
CREATE TABLE IF NOT EXISTS webhook_events (event_id TEXT PRIMARY KEY, received_at {real} NOT NULL);
"""

# Web Push: one browser subscription per owner device. IF NOT EXISTS: the table was made
# without a version by the Relay that introduced it.
_V2 = """
CREATE TABLE IF NOT EXISTS push_subscriptions (
    device_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL, auth TEXT NOT NULL, created_at {real} NOT NULL);
"""

# Backup storage, sampled once an hour per account (the first sample of an hour wins, on any
# instance); a month's GB-months are its samples' bytes x 1 hour over the month's hours.
_V3 = """
CREATE TABLE IF NOT EXISTS storage_samples (
    account_id TEXT NOT NULL, hour {bigint} NOT NULL, month TEXT NOT NULL,
    bytes {bigint} NOT NULL, PRIMARY KEY (account_id, hour));
CREATE INDEX IF NOT EXISTS storage_month ON storage_samples(account_id, month);
"""

# Web Push looks a Node's subscriptions up for every event it pushes: by index, not by scan.
_V4 = """
CREATE INDEX IF NOT EXISTS push_by_node ON push_subscriptions(node_id);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4)
VERSION = len(MIGRATIONS)

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"


class SchemaTooNew(Exception):
    """The database was migrated by a newer Relay than this one."""


def plan(dialect: Dialect, current: int) -> list[str]:
    """The statements that take a database at version `current` to `VERSION`, in order."""
    if current > VERSION:
        raise SchemaTooNew(
            f"the database is at schema version {current}; this Relay knows up to {VERSION}"
        )
    statements = [
        statement.strip()
        for migration in MIGRATIONS[current:]
        for statement in migration.format(**vars(dialect)).split(";")
        if statement.strip()
    ]
    if current < VERSION:
        statements += [
            "DELETE FROM schema_version",
            f"INSERT INTO schema_version VALUES ({VERSION})",  # noqa: S608 (a constant)
        ]
    return statements
