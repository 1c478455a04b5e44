"""One-time sign-in codes: single use, short-lived, never the local token itself."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app.local_server.login import LoginCodes
from app.local_server.server import create_app, ensure_token
from tests.relay.conftest import free_port
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def served(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[str, LoginCodes, Clock, str]]:
    runtime = await open_runtime(tmp_path, fake_openai)
    token = ensure_token(runtime.settings.state_dir)
    clock = Clock()
    login = LoginCodes(clock=clock)
    port = free_port()
    runner = web.AppRunner(create_app(runtime, token, port, login=login), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", login, clock, token
    await runner.cleanup()
    await runtime.close()


async def exchange(base: str, code: str, **headers: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/auth/login", json={"code": code}, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def status_with(base: str, bearer: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/status", headers={"Authorization": f"Bearer {bearer}"}) as resp,
    ):
        return resp.status


async def test_a_code_signs_in_once_and_only_once(served: Any) -> None:
    base, login, _clock, token = served
    code = login.issue()
    assert token not in code
    assert await status_with(base, code) == 401  # a code is not a bearer token
    status, body = await exchange(base, code)
    assert status == 200
    assert await status_with(base, body["token"]) == 200
    # The attacker who read the URL afterwards gets nothing.
    status, body2 = await exchange(base, code)
    assert status == 401 and body2["error"] == "code_used" and "token" not in body2


async def test_an_expired_code_is_refused_and_spent(served: Any) -> None:
    base, login, clock, _token = served
    code = login.issue()
    clock.now += 61
    assert (await exchange(base, code))[0] == 401
    clock.now -= 61
    assert (await exchange(base, code))[0] == 401  # refused once: gone for good


async def test_guessed_codes_and_foreign_pages_are_refused(served: Any) -> None:
    base, login, _clock, _token = served
    code = login.issue()
    assert (await exchange(base, "A" * 22))[0] == 401
    # A web page the owner visits cannot spend (or steal) a code: other origin.
    status, body = await exchange(base, code, Origin="http://evil.example")
    assert status == 403
    # ...and the code is still good for the owner's own tab.
    assert (await exchange(base, code))[0] == 200


def test_pending_codes_and_sessions_are_bounded() -> None:
    login = LoginCodes()
    codes = [login.issue() for _ in range(20)]
    assert login.exchange(codes[0]) is None  # pushed out by newer ones
    assert login.exchange(codes[-1]) is not None
    sessions = []
    for _ in range(70):
        session = login.exchange(login.issue())
        assert session is not None
        sessions.append(session)
    assert not login.is_session(sessions[0]) and login.is_session(sessions[-1])
