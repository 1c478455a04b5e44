"""The core opened on its own loop, ahead of the tray's windows and menu.

A chat that arrives the moment the icon shows (the PC's browser, a paired phone) needs only
the core and the local server; the dialogs, the QR code and the Relay link are imported and
built after it. The core's modules are imported here, inside the coroutine, so the launcher
pays for them on the loop thread and not before the icon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:
    from app.core.runtime import Runtime
    from app.local_server.server import LocalServer
    from app.store.secrets import SecretStore


@dataclass
class ShowHook:
    """What the local server calls when a second start of ORA asks this one to come forward.

    The server starts before the tray exists; the tray points `target` at itself once built
    (called on the loop thread, so the target must be thread-safe, like a Qt signal's emit).
    """

    target: Callable[[], None] | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target()


@dataclass
class OpenedCore:
    """The profile's core and its local server (None when the port is taken)."""

    runtime: Runtime
    local: LocalServer | None
    on_show: ShowHook = field(default_factory=ShowHook)


async def open_core(settings: Settings, *, secrets: SecretStore | None = None) -> OpenedCore:
    """Open the profile's core and serve it on this PC; run on the bridge's loop."""
    from app.core.runtime import Runtime
    from app.local_server import server as local_server

    runtime = await Runtime.open(settings, secrets=secrets)
    hook = ShowHook()
    local = await local_server.start(runtime, on_show=hook)
    return OpenedCore(runtime=runtime, local=local, on_show=hook)
