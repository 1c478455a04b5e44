"""Fixtures shared by the Node's tests: a fake provider and a Runtime in a temp ORA home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.runtime import Runtime
from app.settings import ProviderConfig, Settings, load_settings
from app.store.secrets import SecretStore
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    server = await FakeOpenAI().start()
    yield server
    await server.stop()


def make_settings(home: Path, profile: str = "private", **overrides: object) -> Settings:
    settings = load_settings(profile, env={"ORA_HOME": str(home), "ORA_NO_LOCAL_DETECT": "1"})
    # Port 0: tests running side by side each get their own local server port.
    fields = {**settings.__dict__, "local_port": 0, **overrides}
    return Settings(**fields)


async def open_runtime(
    home: Path, fake: FakeOpenAI | None, profile: str = "private", **overrides: object
) -> Runtime:
    if fake is not None:
        overrides.setdefault(
            "providers",
            (ProviderConfig(name="fake", base_url=fake.base_url, model=fake.model, local=True),),
        )
    settings = make_settings(home, profile, **overrides)
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    return await Runtime.open(settings, secrets=secrets)
