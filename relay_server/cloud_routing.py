"""Cloud workers connected to this Relay, and which worker serves which device's session.

Workers are stateless and interchangeable; a device's end-to-end session lives in one worker,
so every handshake start (HS1) picks the least busy worker and the session's later frames
follow it. A worker that goes away takes its sessions with it; their devices are told, and
their next request starts a new session on another worker.

In a cluster, a device whose instance has no worker is bound to a worker on another instance:
`remote` remembers which one; there the binding is an ordinary one (plus `origin`, the device's
instance), so the rule that a worker sends only to devices whose session it holds is checked
where the worker is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from relay_server.hub import Connection


@dataclass
class CloudRouter:
    """Workers by peer id and the device -> worker bindings (in-process)."""

    workers: dict[str, Connection] = field(default_factory=dict)
    bindings: dict[str, Connection] = field(default_factory=dict)  # device id -> worker
    remote: dict[str, str] = field(default_factory=dict)  # device here -> instance of its worker
    origin: dict[str, str] = field(default_factory=dict)  # device elsewhere -> its instance
    _load: dict[str, int] = field(default_factory=dict)  # worker id -> bound sessions
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, worker: Connection) -> None:
        self.workers[worker.peer_id] = worker
        self._load[worker.peer_id] = 0
        worker.start()

    def remove(self, worker: Connection) -> list[str]:
        """Forget a worker; returns the devices whose sessions it held."""
        self.workers.pop(worker.peer_id, None)
        self._load.pop(worker.peer_id, None)
        orphans = [d for d, w in self.bindings.items() if w is worker]
        for device_id in orphans:
            del self.bindings[device_id]
            self.origin.pop(device_id, None)
        if worker.writer is not None:
            worker.writer.cancel()
        return orphans

    def bind(self, device_id: str) -> Connection | None:
        """A worker for a new session of this device: the least busy, ties taken in turn."""
        self.unbind(device_id)
        if not self.workers:
            return None
        turn = next(self._turn)
        ids = list(self.workers)
        # Rotate before taking the minimum so equal loads alternate between workers.
        rotated = ids[turn % len(ids) :] + ids[: turn % len(ids)]
        worker_id = min(rotated, key=lambda w: self._load[w])
        worker = self.workers[worker_id]
        self.bindings[device_id] = worker
        self._load[worker_id] += 1
        return worker

    def unbind(self, device_id: str) -> None:
        self.origin.pop(device_id, None)
        worker = self.bindings.pop(device_id, None)
        if worker is not None and worker.peer_id in self._load:
            self._load[worker.peer_id] -= 1

    def worker_of(self, device_id: str) -> Connection | None:
        return self.bindings.get(device_id)
