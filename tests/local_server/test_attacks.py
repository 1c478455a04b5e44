"""The local server refuses other sites, rebinding host names and anyone without the token."""

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app.local_server.server import bind_host, create_app, ensure_token
from tests.relay.conftest import free_port
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime


@pytest.fixture
async def server(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[tuple[str, str, Any]]:
    runtime = await open_runtime(tmp_path, fake_openai)
    token = ensure_token(runtime.settings.state_dir)
    port = free_port()
    runner = web.AppRunner(create_app(runtime, token, port), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, bind_host("0.0.0.0", expose_lan=False), port).start()
    yield f"http://127.0.0.1:{port}", token, runtime
    await runner.cleanup()
    await runtime.close()


async def get(url: str, **headers: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_the_owner_with_the_token_gets_in_and_chats(
    server: tuple[str, str, Any], fake_openai: FakeOpenAI
) -> None:
    base, token, _ = server
    status, body = await get(f"{base}/api/status", Authorization=f"Bearer {token}")
    assert status == 200 and body["profile"] == "private"
    fake_openai.script.append(Reply(text="hello from the local server"))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base}/api/chat", json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        lines = [json.loads(line) for line in (await resp.text()).splitlines()]
    assert lines[-1] == {"type": "done", "text": "hello from the local server"}
    assert sum(1 for line in lines if line["type"] == "delta") > 1


@pytest.mark.parametrize("token", ["", "Bearer ", "Bearer wrong-token", "Basic abc"])
async def test_missing_or_wrong_token_is_refused(server: tuple[str, str, Any], token: str) -> None:
    base, _, _ = server
    status, body = await get(f"{base}/api/status", **({"Authorization": token} if token else {}))
    assert status == 401 and body["error"] == "unauthorized"


async def test_foreign_origin_is_refused_even_with_the_token(server: tuple[str, str, Any]) -> None:
    base, token, _ = server
    status, body = await get(
        f"{base}/api/status", Authorization=f"Bearer {token}", Origin="https://evil.example"
    )
    assert status == 403 and body["error"] == "bad_origin"
    status, _ = await get(f"{base}/api/status", Authorization=f"Bearer {token}", Origin=base)
    assert status == 200


async def test_dns_rebinding_host_is_refused(server: tuple[str, str, Any]) -> None:
    base, token, _ = server
    port = base.rsplit(":", 1)[1]
    status, body = await get(
        f"{base}/api/status", Authorization=f"Bearer {token}", Host=f"evil.example:{port}"
    )
    assert status == 403 and body["error"] == "bad_host"


def test_token_file_is_private_and_stable(tmp_path: Path) -> None:
    token = ensure_token(tmp_path)
    path = tmp_path / "local-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and ensure_token(tmp_path) == token
    path.chmod(0o644)
    assert ensure_token(tmp_path) != token and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_lan_exposure_is_off_unless_switched_on() -> None:
    assert bind_host("0.0.0.0", expose_lan=False) == "127.0.0.1"
    assert bind_host("0.0.0.0", expose_lan=True) == "0.0.0.0"
