"""The tray's core answers before any of the tray's windows exist (app/tray/core_start.py).

The launcher opens the core right after the icon shows and imports the menu, dialogs and
Relay link only after it; so the first answer must need none of them. Run in a fresh
interpreter, so what is imported is what this path imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import asyncio, json, sys
sys.path.insert(0, {root!r})
from pathlib import Path
import aiohttp
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import make_settings
from app.settings import ProviderConfig
from app.store.secrets import SecretStore
from app.tray.core_start import open_core

async def main():
    fake = await FakeOpenAI().start()
    provider = ProviderConfig(name="fake", base_url=fake.base_url, model=fake.model, local=True)
    settings = make_settings(Path({home!r}), providers=(provider,))
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    core = await open_core(settings, secrets=secrets)
    headers = {{"Authorization": "Bearer " + core.local.token}}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://127.0.0.1:{{core.local.port}}/api/chat", json={{"text": "first words"}},
            headers=headers,
        ) as resp:
            lines = [json.loads(line) async for line in resp.content if line.strip()]
    await core.local.stop(); await core.runtime.close(); await fake.stop()
    loaded = sorted(m for m in sys.modules if m.startswith(("app.tray.", "qrcode", "app.link.relay_link", "PySide6")))
    print(json.dumps({{"lines": lines, "loaded": loaded}}))

asyncio.run(main())
"""


def test_the_core_answers_without_the_trays_windows_or_link(tmp_path: Path) -> None:
    script = SCRIPT.format(root=str(ROOT), home=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    text = "".join(line.get("text", "") for line in result["lines"] if line["type"] == "delta")
    assert text == "echo: first words"
    # Only the start-up module itself: no window, dialog, QR code or Relay link was imported.
    assert result["loaded"] == ["app.tray.core_start"]
