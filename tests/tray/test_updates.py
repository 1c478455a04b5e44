"""The tray's update flow against a real tufup repository on loopback HTTP and an installed v1."""

import json
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from app.settings import UpdateSettings
from tests.installer.conftest import Setup, serve_bytes

pytestmark = pytest.mark.slow


def test_check_finds_downloads_with_progress_installs_and_restarts(
    qtbot: Any, tray_factory: Any, setup: Setup
) -> None:
    setup.publish("0.2.0", schema=2)
    tray = tray_factory(
        updates=UpdateSettings(enabled=True, url=setup.server.url, install_root=setup.root.path)
    )
    tray.actions["updates"].trigger()
    qtbot.waitUntil(lambda: getattr(tray, "update_box", None) is not None, timeout=20000)
    assert "0.2.0" in tray.update_box.text()
    assert "0.2.0" in tray.actions["updates"].text()
    install = next(
        b
        for b in tray.update_box.buttons()
        if tray.update_box.buttonRole(b) is QMessageBox.ButtonRole.AcceptRole
    )
    install.click()
    # Downloaded, verified, installed beside v1, and ORA started again through the launcher:
    # the new version passes its start-up check and becomes the stable one.
    qtbot.waitUntil(lambda: not tray.bridge.loop.is_running(), timeout=30000)
    assert tray.update_percent == 100

    def stable() -> bool:
        return json.loads(setup.root.state_file.read_text())["stable"] == "0.2.0"

    qtbot.waitUntil(stable, timeout=30000)
    assert setup.root.version_dir("0.1.0").is_dir()


def test_a_tampered_release_is_refused_and_nothing_changes(
    qtbot: Any, tray_factory: Any, setup: Setup
) -> None:
    archive = setup.publish("0.2.0")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    setup.server.overrides["/targets/ora-0.2.0.tar.gz"] = serve_bytes(bytes(data))
    tray = tray_factory(
        updates=UpdateSettings(enabled=True, url=setup.server.url, install_root=setup.root.path)
    )
    tray.check_updates()
    qtbot.waitUntil(lambda: getattr(tray, "update_box", None) is not None, timeout=20000)
    install = next(
        b
        for b in tray.update_box.buttons()
        if tray.update_box.buttonRole(b) is QMessageBox.ButtonRole.AcceptRole
    )
    install.click()
    qtbot.waitUntil(lambda: getattr(tray, "message_box", None) is not None, timeout=20000)
    assert "refused" in tray.message_box.text()
    assert tray.bridge.loop.is_running(), "the running version keeps running"
    state = json.loads(setup.root.state_file.read_text())
    assert state["stable"] == "0.1.0" and state["trial"] is None


def test_updates_off_means_no_traffic_and_a_clear_message(
    qtbot: Any, tray_factory: Any, setup: Setup
) -> None:
    tray = tray_factory(updates=UpdateSettings(enabled=False, url=setup.server.url))
    tray.check_updates()
    assert "turned off" in tray.message_box.text()
    qtbot.wait(200)
    assert setup.server.requests == []


def test_the_tray_reports_a_rollback_once(qtbot: Any, tray_factory: Any, setup: Setup) -> None:
    setup.root.notice_file.parent.mkdir(parents=True, exist_ok=True)
    setup.root.notice_file.write_text("ORA 0.2.0 failed to start; back on 0.1.0")
    tray = tray_factory(updates=UpdateSettings(enabled=False, install_root=setup.root.path))
    assert tray.bridge.loop.is_running()
    assert not setup.root.notice_file.exists(), "shown once, then gone"
