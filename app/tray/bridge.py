"""The one bridge between Qt and the Qt-free core.

The core, the Relay link and every network wait run on a plain asyncio loop in a thread of
their own; Qt talks to it only through this object: coroutines go in with
`run_coroutine_threadsafe`, core events come back as Qt signals (queued to the UI thread).
Why not QtAsyncio or qasync: QtAsyncio lacks the socket APIs aiohttp needs, and qasync runs
the network inside Qt's event loop, where a modal dialog can re-enter it. With a loop thread
the UI never blocks on the network, and the same core runs headless with no bridge at all.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.policy.approvals import ApprovalBroker, ApprovalError, ApprovalRequest, Resolution
from app.policy.gate import Role

T = TypeVar("T")
_LOGGER = logging.getLogger(__name__)


class CoreBridge(QObject):
    """Owns the core's event loop thread and turns core events into Qt signals."""

    approval_requested = Signal(object)  # ApprovalRequest
    approval_resolved = Signal(str, str)  # approval id, outcome
    link_status = Signal(str)  # connected / connecting / offline
    _finished = Signal(object, object)  # callback, result (delivered on the UI thread)

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ora-core", daemon=True)
        self._thread.start()
        self._finished.connect(self._deliver)

    def call(
        self,
        coro: Coroutine[Any, Any, T],
        on_ok: Callable[[T], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run a coroutine on the core's loop; its result goes to `on_ok`, its error to
        `on_error` (logged when there is none), both on the UI thread."""

        def finished(future: Future[T]) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is None:
                self._finished.emit(on_ok, future.result())
            elif on_error is not None:
                self._finished.emit(on_error, error)
            else:
                _LOGGER.warning("a core call failed: %s", error, exc_info=error)

        self.submit(coro).add_done_callback(finished)

    def _deliver(self, callback: Callable[[object], None], result: object) -> None:
        callback(result)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the core's loop; never blocks the UI thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def watch_approvals(self, broker: ApprovalBroker) -> None:
        """Forward the broker's requests and resolutions (called on the core's loop)."""

        def on_event(event: ApprovalRequest | Resolution) -> None:
            if isinstance(event, ApprovalRequest):
                self.approval_requested.emit(event)
            else:
                self.approval_resolved.emit(event.approval_id, event.outcome.value)

        self.loop.call_soon_threadsafe(broker.subscribe, on_event)

    def answer(
        self, broker: ApprovalBroker, request: ApprovalRequest, approve: bool
    ) -> Future[str]:
        """The owner's answer from the tray popup: the PC itself, so the local channel."""

        async def do() -> str:
            try:
                broker.answer(
                    request.approval_id,
                    approve=approve,
                    digest=request.digest,
                    answered_by="owner",
                    answerer_role=Role.OWNER,
                    channel="tray",
                )
                return ""
            except ApprovalError as err:
                return str(err)

        return self.submit(do())

    def stop(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
