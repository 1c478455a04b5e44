"""The Relay's settings, read once from the command line and the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_REPO_WEB = Path(__file__).resolve().parent.parent / "assets" / "web"


# Numeric settings read from the environment as they are: (variable, field, type).
_NUMBERS: tuple[tuple[str, str, type[int] | type[float]], ...] = (
    ("ORA_RELAY_SEND_QUEUE_BYTES", "send_queue_bytes", int),
    ("ORA_RELAY_SEND_TOTAL_BYTES", "send_total_bytes", int),
    ("ORA_RELAY_WRITE_TIMEOUT_S", "write_timeout_s", float),
    ("ORA_RELAY_RATE_LIMIT_MAX_KEYS", "rate_limit_max_keys", int),
    ("ORA_RELAY_NODE_REGISTRATIONS_PER_HOUR", "node_registrations_per_hour", int),
    ("ORA_RELAY_IP_ATTEMPTS_PER_MINUTE", "ip_attempts_per_minute", int),
)


@dataclass(frozen=True, kw_only=True)
class RelaySettings:
    """Everything a Relay process is configured with."""

    host: str = "127.0.0.1"
    port: int = 8470
    data_dir: Path = Path("relay-data")
    public_origins: tuple[str, ...] = ()  # extra allowed browser origins besides the Relay's own
    access_ttl_s: int = 900
    refresh_ttl_s: int = 30 * 24 * 3600
    pairing_max_ttl_s: int = 600
    pairing_max_attempts: int = 5
    ip_attempts_per_minute: int = 20
    pair_decision_timeout_s: float = 60.0
    hello_timeout_s: float = 10.0
    heartbeat_s: float = 20.0
    max_frame_bytes: int = 1024 * 1024 + 1024
    send_queue_frames: int = 256
    # What one connection may have waiting to be written; more and it is too slow: closed.
    send_queue_bytes: int = 2 * 1024 * 1024 + 4096
    # What all connections together may have waiting; a frame that would pass it closes the
    # connection it was for (the one that is behind), so stalled readers cannot add up.
    send_total_bytes: int = 48 * 1024 * 1024
    # A single write that does not finish in this time means the reader stopped reading.
    write_timeout_s: float = 10.0
    # Rate limits key on the real client address: X-Forwarded-For is believed only from these
    # proxies (CIDRs). Entries expire; the table holds at most rate_limit_max_keys clients.
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_max_keys: int = 100_000
    node_registrations_per_hour: int = 10
    insecure_node_versions: frozenset[str] = field(default_factory=frozenset)
    web_dir: Path = _REPO_WEB
    database_url: str = ""  # PostgreSQL for several instances; empty = embedded SQLite
    redis_url: str = ""  # Redis for presence and routing across instances
    redis_prefix: str = "ora"
    # Cloud workers authenticate with one credential; only its SHA-256 is configured here.
    cloud_token_hash: str = ""
    cloud_public_key: str = ""  # the Cloud's X25519 key (base64url), published to clients
    # Billing: a Stripe-style webhook secret, the monthly plan, defaults for new accounts.
    webhook_secret: str = ""
    webhook_tolerance_s: int = 300
    plan_name: str = "relay-monthly"
    plan_price_usd: float = 5.0
    new_account_status: str = "active"
    # The monthly Cloud budget an account gets when a payment activates it (the webhook). A
    # new account has none: registering a Node costs nothing, so it must not buy Cloud time.
    cloud_budget_usd: float = 10.0
    # The most one request may reserve of the budget while it runs (see storage.HELD_SQL).
    cloud_reservation_usd: float = 0.25
    # A claim not billed within this time is from a worker that died: its reservation is
    # released and its request id may run again. Longer than any request may take.
    cloud_claim_lease_s: float = 900.0

    @property
    def db_path(self) -> Path:
        """The SQLite database (the embedded default)."""
        return self.data_dir / "relay.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> RelaySettings:
        """Defaults, then ORA_RELAY_* variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("ORA_RELAY_DATA_DIR"):
            values["data_dir"] = Path(env["ORA_RELAY_DATA_DIR"])
        if env.get("ORA_RELAY_ORIGINS"):
            values["public_origins"] = tuple(
                o.strip() for o in env["ORA_RELAY_ORIGINS"].split(",") if o.strip()
            )
        if env.get("ORA_RELAY_INSECURE_NODE_VERSIONS"):
            values["insecure_node_versions"] = frozenset(
                v.strip() for v in env["ORA_RELAY_INSECURE_NODE_VERSIONS"].split(",") if v.strip()
            )
        if env.get("DATABASE_URL"):
            values["database_url"] = env["DATABASE_URL"]
        if env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        if env.get("ORA_RELAY_REDIS_PREFIX"):
            values["redis_prefix"] = env["ORA_RELAY_REDIS_PREFIX"]
        if env.get("ORA_RELAY_SEND_QUEUE_FRAMES"):
            values["send_queue_frames"] = int(env["ORA_RELAY_SEND_QUEUE_FRAMES"])
        for name, key, cast in _NUMBERS:
            if env.get(name):
                values[key] = cast(env[name])
        if env.get("ORA_RELAY_TRUSTED_PROXIES"):
            values["trusted_proxies"] = tuple(
                p.strip() for p in env["ORA_RELAY_TRUSTED_PROXIES"].split(",") if p.strip()
            )
        if env.get("ORA_RELAY_ACCESS_TTL_S"):
            values["access_ttl_s"] = int(env["ORA_RELAY_ACCESS_TTL_S"])
        if env.get("ORA_RELAY_CLOUD_TOKEN_SHA256"):
            values["cloud_token_hash"] = env["ORA_RELAY_CLOUD_TOKEN_SHA256"].strip().lower()
        if env.get("ORA_RELAY_CLOUD_PUBLIC_KEY"):
            values["cloud_public_key"] = env["ORA_RELAY_CLOUD_PUBLIC_KEY"].strip()
        if env.get("ORA_RELAY_WEBHOOK_SECRET"):
            values["webhook_secret"] = env["ORA_RELAY_WEBHOOK_SECRET"]
        if env.get("ORA_RELAY_PLAN_PRICE_USD"):
            values["plan_price_usd"] = float(env["ORA_RELAY_PLAN_PRICE_USD"])
        if env.get("ORA_RELAY_NEW_ACCOUNT_STATUS"):
            values["new_account_status"] = env["ORA_RELAY_NEW_ACCOUNT_STATUS"]
        if env.get("ORA_RELAY_CLOUD_RESERVATION_USD"):
            values["cloud_reservation_usd"] = float(env["ORA_RELAY_CLOUD_RESERVATION_USD"])
        if env.get("ORA_RELAY_CLOUD_CLAIM_LEASE_S"):
            values["cloud_claim_lease_s"] = float(env["ORA_RELAY_CLOUD_CLAIM_LEASE_S"])
        if env.get("ORA_RELAY_CLOUD_BUDGET_USD"):
            values["cloud_budget_usd"] = float(env["ORA_RELAY_CLOUD_BUDGET_USD"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
