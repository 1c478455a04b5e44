"""Devices paired with this Node, with the public key the Node itself checks every session with."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True, kw_only=True)
class PairedDevice:
    """A device as the Node knows it."""

    device_id: str
    name: str
    role: str
    public_key: bytes
    paired_at: float
    last_seen: float
    revoked: bool


MAX_NAME = 40  # characters: a name fits one line of the Devices list on a phone


class DeviceRegistry:
    """The profile's paired devices (a table in the profile database)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._table = db.table("paired_devices")
        if not self._table.exists():
            self._table.create(
                {
                    "device_id": str,
                    "name": str,
                    "role": str,
                    "public_key": bytes,
                    "paired_at": float,
                    "last_seen": float,
                    "revoked": int,
                },
                pk="device_id",
            )

    def add(self, *, device_id: str, name: str, role: str, public_key: bytes) -> PairedDevice:
        now = time.time()
        self._table.insert(
            {
                "device_id": device_id,
                "name": name,
                "role": role,
                "public_key": public_key,
                "paired_at": now,
                "last_seen": now,
                "revoked": 0,
            }
        )
        return self.get(device_id)  # type: ignore[return-value]

    def get(self, device_id: str) -> PairedDevice | None:
        rows = list(self._table.rows_where("device_id = ?", [device_id]))
        if not rows:
            return None
        r = rows[0]
        return PairedDevice(
            device_id=r["device_id"],
            name=r["name"],
            role=r["role"],
            public_key=bytes(r["public_key"]),
            paired_at=r["paired_at"],
            last_seen=r["last_seen"],
            revoked=bool(r["revoked"]),
        )

    def active(self, device_id: str) -> PairedDevice | None:
        """The device if it is paired and not revoked."""
        device = self.get(device_id)
        return device if device is not None and not device.revoked else None

    def all(self) -> list[PairedDevice]:
        return [
            d
            for d in (
                self.get(r["device_id"]) for r in self._table.rows_where(order_by="paired_at")
            )
            if d
        ]

    def distinct_name(self, wanted: str) -> str:
        """`wanted`, or "wanted 2", "wanted 3"…: two phones are never both just "Android phone"."""
        taken = {d.name for d in self.all() if not d.revoked}
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted} {n}"
        return name

    def rename(self, device_id: str, wanted: str) -> str:
        """Give a device the owner's name for it; returns the name kept ("" if refused)."""
        name = " ".join("".join(c for c in wanted if c.isprintable()).split())[:MAX_NAME]
        device = self.get(device_id)
        if not name or device is None or device.revoked:
            return ""
        if name != device.name:
            name = self.distinct_name(name)
            self._table.update(device_id, {"name": name})
        return name

    def seen(self, device_id: str) -> None:
        self._table.update(device_id, {"last_seen": time.time()})

    def revoke(self, device_id: str) -> bool:
        if self.get(device_id) is None:
            return False
        self._table.update(device_id, {"revoked": 1})
        return True
