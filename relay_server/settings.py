"""The Relay's settings, read once from the command line and the environment."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_REPO_WEB = Path(__file__).resolve().parent.parent / "assets" / "web"


class SettingsError(Exception):
    """A setting is malformed (the message names the variable)."""


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
    send_queue_bytes: int = 1024 * 1024 + 64 * 1024
    # What all connections together may have waiting; a frame that would pass it closes the
    # connection furthest behind (the most bytes waiting), so stalled readers cannot add up.
    send_total_bytes: int = 16 * 1024 * 1024
    # A single write that does not finish in this time means the reader stopped reading.
    write_timeout_s: float = 10.0
    # What one peer may send through the Relay, sustained and at once: a flood from a few
    # peers must not take the CPU every other pair's latency depends on (0: unlimited).
    peer_bytes_per_s: float = 2 * 1024 * 1024
    peer_burst_bytes: int = 2 * 1024 * 1024
    # New WebSockets this instance accepts a second, and at once (0: unlimited). Beyond it a
    # client is told 503 with Retry-After before any database work: a reconnect storm after
    # a restart is spread out instead of queueing every hello on the database at once.
    accept_per_s: float = 0.0
    accept_burst: int = 1000
    # Every this many seconds, what survived so far is frozen out of the garbage collector's
    # sight (0: never). A full collection walks every live object and stops routing meanwhile
    # (~1.8 s at 20k connections on a small machine); frozen objects are skipped, but a cycle
    # among them that dies later is never collected: a bounded leak traded for the tail.
    gc_freeze_s: float = 0.0
    # Processes serving this instance's port (relay_server/workers.py): one per core, or more
    # when one process's file-descriptor limit is below the phones the instance should carry.
    # More than one needs DATABASE_URL and REDIS_URL (the workers are a cluster).
    workers: int = 1
    worker_index: int = -1  # set by the supervisor for its workers; -1: not a worker
    # Worker i also listens on this port + i, so that each can be scraped for its own
    # /metrics (the shared port answers from whichever worker the kernel picks); 0: no.
    worker_metrics_port: int = 0
    # Rate limits key on the real client address: X-Forwarded-For is believed only from these
    # proxies (CIDRs). Entries expire; the table holds at most rate_limit_max_keys clients.
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_max_keys: int = 100_000
    node_registrations_per_hour: int = 10
    insecure_node_versions: frozenset[str] = field(default_factory=frozenset)
    web_dir: Path = _REPO_WEB
    serve_client: bool = True  # the web client under /app/; off when it has its own origin
    database_url: str = ""  # PostgreSQL for several instances; empty = embedded SQLite
    redis_url: str = ""  # Redis for presence and routing across instances
    redis_prefix: str = "ora"
    # Cloud workers authenticate with one credential; only its SHA-256 is configured here.
    cloud_token_hash: str = ""
    cloud_public_key: str = ""  # the Cloud's X25519 key (base64url), published to clients
    # ORA's release key's statement vouching for that key (protocol.cloud_key), JSON text:
    # devices believe the Cloud's key only from it, never from this Relay's word.
    cloud_key_statement: str = ""
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

    # Web Push (relay_server/push.py): the VAPID key's PEM (every instance of a cluster shares
    # one; empty = <data_dir>/vapid.pem, made on first start), the contact the push services
    # see, and the push services a subscription may point at (anything else is refused: the
    # Relay must not be made to POST to arbitrary addresses). "*." matches subdomains.
    vapid_private_key: str = field(default="", repr=False)
    vapid_subject: str = "mailto:relay@ora.invalid"
    push_services: tuple[str, ...] = (
        "https://fcm.googleapis.com",
        "https://updates.push.services.mozilla.com",
        "https://*.push.services.mozilla.com",
        "https://*.push.apple.com",
        "https://*.notify.windows.com",
    )
    node_offline_push_s: float = 600.0  # a Node away this long: its devices are told, and back
    budget_low_fraction: float = 0.9  # the month's Cloud budget this much spent: told once

    backup_dir: Path | None = None  # owners' encrypted backups; None = <data_dir>/backup
    backup_quota_bytes: int = 1024 * 1024 * 1024  # per account, all its vaults together
    # Backup storage on the monthly statement: per GB (10^9 bytes) kept for a whole month,
    # measured by an hourly sample of each account's stored bytes.
    backup_price_usd_per_gb_month: float = 0.05
    storage_sample_s: float = 3600.0

    @property
    def backup_root(self) -> Path:
        """Where the blobs of owners' backups live (shared by instances in a cluster)."""
        return self.backup_dir or self.data_dir / "backup"

    @property
    def vapid_path(self) -> Path:
        """The Relay's VAPID key when not configured (0600, never logged)."""
        return self.data_dir / "vapid.pem"

    @property
    def db_path(self) -> Path:
        """The SQLite database (the embedded default)."""
        return self.data_dir / "relay.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> RelaySettings:
        """Defaults, then the variables of `ENVIRONMENT`, then explicit overrides.

        A malformed value raises SettingsError naming the variable; an empty one is unset.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for variable, name, parse in ENVIRONMENT:
            raw = env.get(variable, "")
            if not raw:
                continue
            try:
                values[name] = parse(raw)
            except ValueError as err:
                raise SettingsError(f"{variable}: {err}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


def _text(raw: str) -> str:
    return raw


def _stripped(raw: str) -> str:
    return raw.strip()


def _json_object(raw: str) -> str:
    try:
        if not isinstance(json.loads(raw), dict):
            raise ValueError
    except ValueError:
        raise ValueError("must be a JSON object (installer.release cloud-key prints it)") from None
    return raw.strip()


def _sha256(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError("must be a SHA-256 in hex (64 characters)")
    return value


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"{raw!r} is not 1/0, true/false, yes/no or on/off")
    return value in ("1", "true", "yes", "on")


def _set(raw: str) -> frozenset[str]:
    return frozenset(_list(raw))


def _account_status(raw: str) -> str:
    if raw not in ACCOUNT_STATUSES:
        raise ValueError(f"{raw!r} is not one of {', '.join(ACCOUNT_STATUSES)}")
    return raw


ACCOUNT_STATUSES = ("active", "past_due", "cancelled")

# Every environment variable the Relay reads: (variable, RelaySettings field, parser).
ENVIRONMENT: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("ORA_RELAY_DATA_DIR", "data_dir", Path),
    ("ORA_RELAY_ORIGINS", "public_origins", _list),
    ("ORA_RELAY_SERVE_CLIENT", "serve_client", _bool),
    ("ORA_RELAY_INSECURE_NODE_VERSIONS", "insecure_node_versions", _set),
    ("DATABASE_URL", "database_url", _text),
    ("REDIS_URL", "redis_url", _text),
    ("ORA_RELAY_REDIS_PREFIX", "redis_prefix", _text),
    ("ORA_RELAY_ACCESS_TTL_S", "access_ttl_s", _int),
    ("ORA_RELAY_SEND_QUEUE_FRAMES", "send_queue_frames", _int),
    ("ORA_RELAY_SEND_QUEUE_BYTES", "send_queue_bytes", _int),
    ("ORA_RELAY_SEND_TOTAL_BYTES", "send_total_bytes", _int),
    ("ORA_RELAY_WRITE_TIMEOUT_S", "write_timeout_s", _float),
    ("ORA_RELAY_PEER_BYTES_PER_S", "peer_bytes_per_s", _float),
    ("ORA_RELAY_PEER_BURST_BYTES", "peer_burst_bytes", _int),
    ("ORA_RELAY_ACCEPT_PER_S", "accept_per_s", _float),
    ("ORA_RELAY_ACCEPT_BURST", "accept_burst", _int),
    ("ORA_RELAY_HEARTBEAT_S", "heartbeat_s", _float),
    ("ORA_RELAY_GC_FREEZE_S", "gc_freeze_s", _float),
    ("ORA_RELAY_WORKERS", "workers", _int),
    ("ORA_RELAY_WORKER_INDEX", "worker_index", _int),
    ("ORA_RELAY_WORKER_METRICS_PORT", "worker_metrics_port", _int),
    ("ORA_RELAY_TRUSTED_PROXIES", "trusted_proxies", _list),
    ("ORA_RELAY_RATE_LIMIT_MAX_KEYS", "rate_limit_max_keys", _int),
    ("ORA_RELAY_NODE_REGISTRATIONS_PER_HOUR", "node_registrations_per_hour", _int),
    ("ORA_RELAY_IP_ATTEMPTS_PER_MINUTE", "ip_attempts_per_minute", _int),
    ("ORA_RELAY_BACKUP_DIR", "backup_dir", Path),
    ("ORA_RELAY_BACKUP_QUOTA_BYTES", "backup_quota_bytes", _int),
    ("ORA_RELAY_BACKUP_PRICE_USD_PER_GB_MONTH", "backup_price_usd_per_gb_month", _float),
    ("ORA_RELAY_STORAGE_SAMPLE_S", "storage_sample_s", _float),
    ("ORA_RELAY_CLOUD_TOKEN_SHA256", "cloud_token_hash", _sha256),
    ("ORA_RELAY_CLOUD_PUBLIC_KEY", "cloud_public_key", _stripped),
    ("ORA_RELAY_CLOUD_KEY_STATEMENT", "cloud_key_statement", _json_object),
    ("ORA_RELAY_WEB_DIR", "web_dir", Path),
    ("ORA_RELAY_WEBHOOK_SECRET", "webhook_secret", _text),
    ("ORA_RELAY_PLAN_PRICE_USD", "plan_price_usd", _float),
    ("ORA_RELAY_NEW_ACCOUNT_STATUS", "new_account_status", _account_status),
    ("ORA_RELAY_CLOUD_BUDGET_USD", "cloud_budget_usd", _float),
    ("ORA_RELAY_CLOUD_RESERVATION_USD", "cloud_reservation_usd", _float),
    ("ORA_RELAY_CLOUD_CLAIM_LEASE_S", "cloud_claim_lease_s", _float),
    ("ORA_RELAY_VAPID_PRIVATE_KEY", "vapid_private_key", _text),
    ("ORA_RELAY_VAPID_SUBJECT", "vapid_subject", _stripped),
    ("ORA_RELAY_PUSH_SERVICES", "push_services", _list),
    ("ORA_RELAY_NODE_OFFLINE_PUSH_S", "node_offline_push_s", _float),
    ("ORA_RELAY_BUDGET_LOW_FRACTION", "budget_low_fraction", _float),
)
