"""The tray's Devices dialog shows which devices get notifications on their phone (the Relay
keeps the subscriptions; a real Relay, a real push service, real Qt widgets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.relay.conftest import RelayProcess
from tests.relay.test_push_events import opt_in, push_env, push_service  # noqa: F401
from tests.support.device_client import Device
from tests.support.push_testing import PushService

pytestmark = pytest.mark.slow


def test_the_devices_dialog_shows_which_devices_get_notifications(
    qtbot: Any,
    tray_factory: Any,
    relay_factory: Any,
    tmp_path: Path,
    push_service: PushService,  # noqa: F811
) -> None:
    relay: RelayProcess = relay_factory("pushy", **push_env(tmp_path, push_service))
    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    assert tray.link is not None
    phones = []
    for name in ("Aki's phone", "Aki's tablet"):
        _, url = tray.bridge.submit(tray.link.open_pairing()).result(5)
        phone = Device(relay.url, name=name)
        tray.bridge.submit(phone.pair(url)).result(10)
        phones.append(phone)
    tray.bridge.submit(opt_in(phones[0], push_service)).result(10)

    dialog = tray.open_devices()
    qtbot.addWidget(dialog)
    header = dialog.table.horizontalHeaderItem(4)
    assert header is not None and header.text() == "Notifications"

    def notified() -> dict[str, str]:
        shown = {}
        for r in range(dialog.table.rowCount()):
            name, state = dialog.table.item(r, 0), dialog.table.item(r, 4)
            if name is not None and state is not None:
                shown[name.text()] = state.text()
        return shown

    qtbot.waitUntil(
        lambda: notified() == {"Aki's phone": "on", "Aki's tablet": "off"}, timeout=5000
    )
    # Revoked: the Relay forgets its subscription, and the dialog says so.
    row = [dialog.table.item(r, 0).text() for r in range(2)].index("Aki's phone")
    qtbot.mouseClick(dialog.table.cellWidget(row, 3), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: notified() == {"Aki's phone": "off", "Aki's tablet": "off"}, timeout=5000
    )
    for phone in phones:
        tray.bridge.submit(phone.close()).result(5)
