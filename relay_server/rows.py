"""The Relay store's rows, as typed records (`relay_server.storage` returns them)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from relay_server.sql_engines import Row


@dataclasses.dataclass(frozen=True, kw_only=True)
class NodeRow:
    node_id: str
    public_key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceRow:
    node_id: str
    role: str  # owner | sub-admin | guest
    revoked: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class TokenRow:
    """A stored token (by hash)."""

    token_hash: str
    kind: str
    device_id: str
    family_id: str
    expires_at: float
    replaced: bool
    revoked: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class PairingRow:
    node_id: str
    verifier: str
    role: str
    expires_at: float
    attempts: int
    state: str  # open | claimed | locked | used | refused | expired


@dataclasses.dataclass(frozen=True, kw_only=True)
class AuditRow:
    ts: float
    event: str
    node_id: str | None
    device_id: str | None
    source: str | None
    detail: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccountRow:
    """A billing account (one per Node owner; its id is the Node's id)."""

    account_id: str
    plan: str
    status: str  # active | past_due | cancelled
    status_at: float  # time of the event that set the status (older events never win)
    budget_nusd: int  # monthly Cloud budget, in billionths of a US dollar


@dataclasses.dataclass(frozen=True, kw_only=True)
class UsageRow:
    """One Cloud request of an account: claimed, then billed once."""

    request_id: str
    device_id: str
    state: str  # claimed | billed
    claimed_at: float
    billed_at: float | None
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_nusd: int
    outcome: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PushRow:
    """A device's Web Push subscription: where its browser's push service takes messages."""

    device_id: str
    endpoint: str
    p256dh: str
    auth: str


_R = TypeVar("_R")


def columns(cls: type[Any]) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def load(cls: type[_R], row: Row | None) -> _R | None:
    """A row as its dataclass; SQLite's 0/1 become bools where the field is one."""
    if row is None:
        return None
    values = {
        f.name: bool(row[f.name]) if f.type == "bool" else row[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**values)
