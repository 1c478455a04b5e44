"""One-time sign-in codes: how the tray hands the browser a session without a secret in its URL.

Opening a browser puts the URL on a process's command line, and any local user can read
`/proc/*/cmdline`. So the tray never puts the long-lived local token there. Instead:

    tray ── issue() ──► code (random 128-bit, single use, 60 s)
    browser opens /app/#login=<code>
    page ── POST /auth/login {"code"} ──► session token (random 256-bit, in memory only)

A code is spent by its first exchange, right or wrong page, so whoever reads the URL later
holds nothing. Sessions live in this process's memory: a restart of ORA signs every tab out.
Codes and sessions are compared by SHA-256 digest in a dict (no timing leak on the secret).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

CODE_TTL_S = 60.0
MAX_CODES = 8  # pending codes; the oldest goes first (the tray issues one per click)
MAX_SESSIONS = 64  # signed-in tabs; the oldest is signed out first


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class LoginCodes:
    """Issues single-use sign-in codes and the browser sessions they are exchanged for."""

    def __init__(
        self, *, ttl_s: float = CODE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._codes: OrderedDict[bytes, float] = OrderedDict()  # digest -> expiry
        self._sessions: OrderedDict[bytes, None] = OrderedDict()

    def issue(self) -> str:
        """A fresh code for one browser tab to sign in with."""
        code = secrets.token_urlsafe(16)
        self._codes[_digest(code)] = self._clock() + self._ttl_s
        while len(self._codes) > MAX_CODES:
            self._codes.popitem(last=False)
        return code

    def exchange(self, code: str) -> str | None:
        """The session token for a valid code (which is spent); None when unknown, used or expired."""
        expiry = self._codes.pop(_digest(code), None)
        if expiry is None or self._clock() > expiry:
            return None
        session = secrets.token_urlsafe(32)
        self._sessions[_digest(session)] = None
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def is_session(self, token: str) -> bool:
        """Whether a bearer token is a live browser session."""
        return _digest(token) in self._sessions
