"""`ora --headless` as a real process: it connects to the Relay and prints a QR a device can use."""

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.relay.conftest import REPO, RelayProcess
from tests.support.device_client import Device

pytestmark = pytest.mark.slow


async def test_headless_node_prints_a_pairing_link_a_device_can_use(
    tmp_path: Path, relay: RelayProcess
) -> None:
    env = {
        **os.environ,
        "ORA_HOME": str(tmp_path / "home"),
        "ORA_RELAY_URL": relay.url,
        "ORA_NO_LOCAL_DETECT": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "--headless",
        cwd=REPO,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    url = ""
    seen = []
    try:
        async with asyncio.timeout(20):
            while not url:
                line = (await proc.stdout.readline()).decode()
                seen.append(line)
                if line.startswith("or open: "):
                    url = line.removeprefix("or open: ").strip()
        assert any("(connected)" in s for s in seen) and any("█" in s for s in seen)
        phone = Device(relay.url)
        await phone.pair(url)
        await phone.connect()
        _, text, _ = await phone.chat("/help")
        assert "/files list" in text
        await phone.close()
    finally:
        proc.terminate()
        await proc.wait()
    assert proc.returncode == 0
