"""Pairing confirms itself in the tray: the QR dialog says "Paired: <device>" and closes; two
phones with the same default name get distinct names ("Android phone 2")."""

from __future__ import annotations

from typing import Any

from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device


def test_the_pairing_dialog_says_paired_by_name_and_closes(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    names = []
    for _ in range(2):
        tray.actions["pair"].trigger()
        qtbot.waitUntil(
            lambda: tray.pairing_dialog is not None and tray.pairing_dialog.isVisible(),
            timeout=5000,
        )
        dialog = tray.pairing_dialog
        phone = Device(relay.url, name="Android phone")
        tray.bridge.submit(phone.pair(dialog.url)).result(10)
        qtbot.waitUntil(lambda d=dialog: d.qr.text().startswith("Paired: "), timeout=5000)
        names.append(dialog.qr.text().removeprefix("Paired: "))
        assert not dialog.new_code.isVisible(), "nothing left to do in it"
        qtbot.waitUntil(lambda d=dialog: not d.isVisible(), timeout=5000)
        tray.bridge.submit(phone.close()).result(5)
    assert names == ["Android phone", "Android phone 2"]
    assert sorted(row.name for row in tray.device_rows()) == names
