"""The tray holds its profile: a second start brings its window forward; a held profile is not
switched to."""

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from app.policy.gate import Profile
from app.profile_lock import ProfileLock

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_start_brings_the_tray_chat_forward(
    qtbot: Any, tray_factory: Any, tmp_path: Path
) -> None:
    tray = tray_factory()
    tray.profile_lock = ProfileLock.acquire(tray.settings.state_dir, "private")
    tray.profile_lock.describe(port=tray.local.port)
    assert not tray.chat.isVisible()
    result: list[subprocess.CompletedProcess[str]] = []
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"ORA_HOME": str(tmp_path), "ORA_NO_LOCAL_DETECT": "1", "LANG": "C.UTF-8"}
    second = threading.Thread(
        target=lambda: result.append(
            subprocess.run(
                [sys.executable, "-m", "app", "--headless"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        )
    )
    second.start()
    qtbot.waitUntil(lambda: bool(result), timeout=60_000)
    second.join()
    assert "ORA is already running" in result[0].stderr
    assert "brought forward" in result[0].stderr
    qtbot.waitUntil(tray.chat.isVisible, timeout=5_000)
    tray.profile_lock.release()


def test_switching_to_a_profile_held_by_another_ora_is_refused(
    qtbot: Any, tray_factory: Any, tmp_path: Path
) -> None:
    tray = tray_factory()
    tray.profile_lock = ProfileLock.acquire(tray.settings.state_dir, "private")
    other = ProfileLock.acquire(tmp_path / "profiles" / "shared", "shared")
    try:
        tray.switch_profile(Profile.SHARED)
        assert tray.settings.profile is Profile.PRIVATE
        assert "already running for the shared profile" in tray.message_box.text()
        assert tray.actions["profile:private"].isChecked()
    finally:
        other.release()
        tray.profile_lock.release()
