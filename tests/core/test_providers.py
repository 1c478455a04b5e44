"""Provider configuration: keys from the secret store, disabled without one, local servers found."""

import asyncio
import socket
import time
from pathlib import Path

from app.core.providers import ProviderPool, detect_local_servers
from app.policy.gate import Profile
from app.settings import ProviderConfig
from app.store.secrets import SecretStore
from tests.support.fake_openai import FakeOpenAI


def test_providers_without_a_key_are_disabled_and_say_how_to_fix_it(tmp_path: Path) -> None:
    store = SecretStore.open(Profile.PRIVATE, tmp_path, use_keyring=False)
    cfgs = [
        ProviderConfig(
            name="openai", base_url="https://api.example/v1", model="m", key_ref="openai"
        ),
        ProviderConfig(name="nokey", base_url="https://api.example/v1", model="m"),
        ProviderConfig(name="local", base_url="http://127.0.0.1:1/v1", model="m", local=True),
    ]
    pool = ProviderPool.from_config(cfgs, store)
    by_name = {s.config.name: s for s in pool.statuses}
    assert not by_name["openai"].enabled and "ora key set openai" in by_name["openai"].reason
    assert not by_name["nokey"].enabled
    assert by_name["local"].enabled
    store.set("openai", "sk-x")
    assert ProviderPool.from_config(cfgs, store).statuses[0].enabled


async def test_sends_the_stored_key_to_its_provider(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    store = SecretStore.open(Profile.PRIVATE, tmp_path, use_keyring=False)
    store.set("fake", "sk-the-right-key")
    pool = ProviderPool.from_config(
        [ProviderConfig(name="fake", base_url=fake_openai.base_url, model="m", key_ref="fake")],
        store,
    )
    from app.core.providers import StreamResult

    result = StreamResult()
    text = "".join(
        [d async for d in pool.stream("chat", [{"role": "user", "content": "hi"}], None, result)]
    )
    assert text == "echo: hi"
    assert fake_openai.auth_headers == ["Bearer sk-the-right-key"]


async def test_local_server_is_detected_quickly_and_absent_ones_are_not(
    fake_openai: FakeOpenAI,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    started = time.perf_counter()
    found = await detect_local_servers([fake_openai.port, closed_port])
    assert time.perf_counter() - started < 2
    assert [f.base_url for f in found] == [fake_openai.base_url]
    assert found[0].model == fake_openai.model and found[0].local


async def test_runtime_adds_a_detected_local_server(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    from tests.support.fixtures import open_runtime

    rt = await open_runtime(
        tmp_path, None, detect_local_providers=True, local_provider_ports=(fake_openai.port,)
    )
    await asyncio.wait_for(rt.wait_ready(), 5)
    assert rt.providers.has_any()
    await rt.close()
