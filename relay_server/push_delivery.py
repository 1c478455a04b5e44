"""Web Push's costly part, off the event loop that routes frames: one thread of its own.

Per push, pywebpush makes an ephemeral P-256 key, derives the aes128gcm key from the device's
(http-ece), encrypts, and POSTs over its own HTTP connection (TLS to a real push service).
Measured here: ~0.65 ms of CPU per push with the VAPID JWT signed each time (~0.08 ms of
it), the encryption ~0.24 ms and the POST ~0.25 ms. On the routing loop that is time every
frame that arrives meanwhile waits for; here it runs on this thread's own loop (with its own
aiohttp session), and the routing loop only hands a job over and is told the outcome.

The VAPID JWT is signed once per push-service origin (its audience) and reused until an hour
before it expires (12 h, RFC 8292 allows 24), so a burst of pushes signs nothing.

Python runs one thread at a time: what this thread still costs the routing loop is the GIL
between its steps, not the whole send, and the switch interval bounds how long the loop waits
for it. bench/relay_push.py, pooled paced round trips with / without 10 pushes a second: the
push thread with a 5 ms switch interval, p99 x2.85 (one run); with 0.5 ms, x1.017 and x1.007;
everything on the routing loop as before, x1.175 and x1.244. The p50 moved within the noise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
import time
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush_async

_LOGGER = logging.getLogger(__name__)
JWT_LIFETIME_S = 12 * 3600
JWT_RENEW_BEFORE_S = 3600  # signed again when less than this is left
SWITCH_INTERVAL_S = 0.0005


class VapidHeaders:
    """The Authorization header per push-service origin, signed once and reused until near
    its expiry (the JWT names the origin, not the subscription)."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self._vapid = vapid
        self._subject = subject
        self._by_audience: dict[str, tuple[float, dict[str, str]]] = {}
        self.signed = 0  # how many JWTs were signed (tests)

    def for_endpoint(self, endpoint: str) -> dict[str, str]:
        url = urlsplit(endpoint)
        audience = f"{url.scheme}://{url.netloc}"
        now = time.time()
        cached = self._by_audience.get(audience)
        if cached is not None and cached[0] - now > JWT_RENEW_BEFORE_S:
            return cached[1]
        expires = int(now) + JWT_LIFETIME_S
        headers = self._vapid.sign({"sub": self._subject, "aud": audience, "exp": expires})
        self._by_audience[audience] = (float(expires), dict(headers))
        self.signed += 1
        return self._by_audience[audience][1]


class DeliveryThread:
    """A thread with its own event loop that encrypts and POSTs pushes; `send` is awaited from
    the routing loop and returns the push service's answer."""

    def __init__(self, vapid: Vapid02, subject: str) -> None:
        self.vapid_headers = VapidHeaders(vapid, subject)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="web-push", daemon=True)
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        # A thread waiting for the GIL takes it by force only after the switch interval (5 ms
        # by default): the routing loop, woken by a frame while this thread runs Python, would
        # wait that long. Half a millisecond bounds it near what one push step costs anyway.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        self._loop.close()

    async def send(
        self,
        info: dict[str, object],
        payload: str,
        *,
        ttl_s: int,
        http_timeout: aiohttp.ClientTimeout,
    ) -> tuple[int | None, float | None]:
        """The push service's status (None: no answer) and its Retry-After, if any."""
        job = asyncio.run_coroutine_threadsafe(
            self._send(info, payload, ttl_s, http_timeout), self._loop
        )
        return await asyncio.wrap_future(job)

    async def _send(
        self, info: dict[str, object], payload: str, ttl_s: int, http_timeout: aiohttp.ClientTimeout
    ) -> tuple[int | None, float | None]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        headers: dict[str, str | int | float] = {
            # Some push services (and web-push-testing) want the body's type said.
            "Content-Type": "application/octet-stream",
            "Urgency": "high",
            **self.vapid_headers.for_endpoint(str(info["endpoint"])),
        }
        try:
            resp = await webpush_async(
                info,
                data=payload,
                ttl=ttl_s,
                timeout=http_timeout,
                headers=headers,
                aiohttp_session=self._http,
            )
        except WebPushException as err:
            resp = err.response
            if resp is None:
                return None, None
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None, None
        status = int(getattr(resp, "status", 0) or 0)
        retry = getattr(resp, "headers", {}).get("Retry-After")
        try:
            return status, float(retry) if retry else None
        except ValueError:
            return status, None

    async def close(self) -> None:
        """Close the session and end the thread (sends still running are cancelled)."""
        if not self._thread.is_alive():
            return
        job = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            await asyncio.wait_for(asyncio.wrap_future(job), 5)
        except (TimeoutError, concurrent.futures.CancelledError):
            _LOGGER.warning("web push thread did not shut down in time")
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join, 5)

    async def _shutdown(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
