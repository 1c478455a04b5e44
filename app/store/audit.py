"""The append-only, hash-chained audit log of every tool call.

Each row's MAC is HMAC-SHA256(key, prev_mac || canonical JSON of the row), with the key in the
profile's secret store, so a row cannot be edited, inserted or removed without the chain
breaking — and the chain cannot be recomputed by someone who can write the database but not
read the keyring. The head (last seq and MAC) is also kept in the secret store, so cutting rows
off the end is found too.

    seq | ts | user_id | role | channel | tool | args_digest | risk | decision | approver | outcome | prev | mac
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from app.store.secrets import SecretStore

_KEY_NAME = "ora.audit-key"
_HEAD_NAME = "ora.audit-head"
_GENESIS = "0" * 64
_FIELDS = (
    "seq", "ts", "user_id", "role", "channel", "tool", "args_digest",
    "risk", "decision", "approver", "outcome", "prev",
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class AuditProblem:
    """The first row where the chain breaks, and what is wrong with it."""

    seq: int
    problem: str


def _mac(key: bytes, row: dict[str, Any]) -> str:
    body = json.dumps({f: row[f] for f in _FIELDS}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


class AuditLog:
    """Append and verify."""

    def __init__(self, db: sqlite_utils.Database, secrets_store: SecretStore) -> None:
        self._db = db
        self._secrets = secrets_store
        key = secrets_store.get(_KEY_NAME)
        if key is None:
            key = secrets.token_hex(32)
            secrets_store.set(_KEY_NAME, key)
        self._key = bytes.fromhex(key)
        self._head: tuple[int, str] = self._read_head()

    def _read_head(self) -> tuple[int, str]:
        raw = self._secrets.get(_HEAD_NAME)
        if not raw:
            return 0, _GENESIS
        seq, mac = raw.split(":", 1)
        return int(seq), mac

    def record(
        self,
        *,
        user_id: str,
        role: str,
        channel: str,
        tool: str,
        args_digest: str,
        risk: str,
        decision: str,
        approver: str = "",
        outcome: str,
    ) -> int:
        """Append one row; returns its sequence number."""
        seq, prev = self._head
        row: dict[str, Any] = {
            "seq": seq + 1,
            "ts": round(time.time(), 6),
            "user_id": user_id,
            "role": role,
            "channel": channel,
            "tool": tool,
            "args_digest": args_digest,
            "risk": risk,
            "decision": decision,
            "approver": approver,
            "outcome": outcome,
            "prev": prev,
        }
        row["mac"] = _mac(self._key, row)
        self._db.table("audit").insert(row)
        self._head = (row["seq"], row["mac"])
        self._secrets.set(_HEAD_NAME, f"{row['seq']}:{row['mac']}")
        return int(row["seq"])

    def rows(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest rows, newest first."""
        return list(self._db.table("audit").rows_where(order_by="seq desc", limit=limit))

    def verify(self) -> AuditProblem | None:
        """None when intact; otherwise the first broken row and why."""
        expected_seq, prev = 1, _GENESIS
        for row in self._db.table("audit").rows_where(order_by="seq"):
            seq = int(row["seq"])
            if seq != expected_seq:
                return AuditProblem(
                    seq=expected_seq,
                    problem=f"row {expected_seq} is missing (deleted) before row {seq}"
                    if seq > expected_seq
                    else f"row {seq} appears twice or out of order (inserted)",
                )
            if row["prev"] != prev:
                return AuditProblem(
                    seq=seq,
                    problem=f"row {seq} does not follow row {seq - 1} (inserted or reordered)",
                )
            if not hmac.compare_digest(_mac(self._key, row), str(row["mac"])):
                return AuditProblem(seq=seq, problem=f"row {seq} was edited after it was written")
            prev = str(row["mac"])
            expected_seq += 1
        head_seq, head_mac = self._read_head()
        last = expected_seq - 1
        if last < head_seq:
            return AuditProblem(
                seq=last + 1, problem=f"rows {last + 1}..{head_seq} were deleted from the end"
            )
        if last > head_seq or (head_seq and prev != head_mac):
            return AuditProblem(
                seq=head_seq + 1, problem=f"row {head_seq + 1} onwards were added outside ORA"
            )
        return None
