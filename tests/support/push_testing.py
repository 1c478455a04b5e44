"""A real Web Push service on loopback: npm `web-push-testing` (checks VAPID, decrypts payloads).

Installed by `scripts/setup.sh test` into tests/support/push_service/node_modules.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER = Path(__file__).resolve().parent / "push_service" / "node_modules" / "web-push-testing"
SERVER_JS = SERVER / "src" / "bin" / "server.js"


@dataclass
class PushService:
    """One web-push-testing process (its own PID) and its API."""

    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.startswith("{") else text

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A subscription as a browser's PushManager would make it: endpoint, keys, clientHash."""
        data = self._post(
            "/subscribe",
            {"userVisibleOnly": "true", "applicationServerKey": application_server_key},
        )["data"]
        return dict(data)

    def notifications(self, client_hash: str) -> list[Any]:
        """The decrypted payloads this subscription received."""
        return list(
            self._post("/get-notifications", {"clientHash": client_hash})["data"]["messages"]
        )

    def expire(self, client_hash: str) -> None:
        self._post(f"/expire-subscription/{client_hash}")


def start_push_service() -> PushService:
    if not SERVER_JS.is_file():
        raise RuntimeError("web-push-testing is missing: run scripts/setup.sh test")
    # Another process may take the port between our probe and the server's listen: a server
    # that exits at once gets another port.
    for _ in range(5):
        service = _start_once()
        if service is not None:
            return service
    raise RuntimeError("web-push-testing did not start")


def _start_once() -> PushService | None:
    # A port free on the wildcard address, as the server will listen (dual stack when there
    # is IPv6, else IPv4's).
    family, wildcard = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")
    with socket.socket(family) as s:
        s.bind((wildcard, 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        ["node", str(SERVER_JS), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    service = PushService(port=port, proc=proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            service._post("/status")
            return service
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    proc.wait(5)
    return None
