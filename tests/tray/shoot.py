"""Run the tray app on a real X display with a real system tray and photograph it.

`python -m tests.tray.shoot LANG OUT_DIR` (DISPLAY set, a tray such as trayer running). The
menu is opened by a real right-click on the tray icon (xdotool), every other window by the
code path the menu uses; the pictures are cut from a grab of the whole screen, so they show
what the X server shows. Prints one JSON line with what was seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from app.core.assistant import TurnRequest
from app.link.devices import DeviceRegistry
from app.policy.gate import Role
from app.store.secrets import SecretStore
from app.tray import i18n
from app.tray.app import TrayApp
from app.tray.qr_dialog import PairingDialog
from tests.support.fixtures import make_settings

PAIR_URL = "http://127.0.0.1:8470/app/#v=1&r=http%3A%2F%2F127.0.0.1%3A8470&n=Nq3vX0cX&p=Zb7Kq2Ue&s=d0n0tUs3Th1sS3cr3t&k=Hq0dQy8oNqk2M3W6sVqkA5VQyTj0O3m8dZqvJp2wX1Q"


def pump(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app: QApplication, check: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if check():
            return True
        time.sleep(0.02)
    return False


def shoot(app: QApplication, rect: QRect, path: Path) -> None:
    screen = app.primaryScreen()
    pump(app, 0.3)
    screen.grabWindow(0, rect.x(), rect.y(), rect.width(), rect.height()).save(str(path))


def place(app: QApplication, widget: QWidget, x: int = 380, y: int = 90) -> QRect:
    widget.move(x, y)
    widget.show()
    widget.raise_()
    pump(app, 0.4)
    frame = widget.frameGeometry()
    return frame.adjusted(-8, -8, 8, 8)


def main(lang: str, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv)
    app.setQuitOnLastWindowClosed(False)
    i18n.install(app, lang)
    seen: dict[str, Any] = {"tray_available": QSystemTrayIcon.isSystemTrayAvailable()}
    home = Path(tempfile.mkdtemp(prefix="ora-shots-"))
    os.environ["ORA_HOME"] = str(home)
    settings = make_settings(home, locale=lang)
    # The gate checks a path before it asks (issue 25): the file to delete must exist in a root.
    invoice = settings.state_dir / "files" / "old-invoices" / "2023-03.pdf"
    invoice.parent.mkdir(parents=True, exist_ok=True)
    invoice.write_bytes(b"%PDF-1.4\n")
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    tray = TrayApp(settings, secrets=secrets, start_link=False)
    tray.on_link_status("connected")
    tray.tray.show()
    seen["icon_placed"] = wait_for(app, lambda: tray.tray.geometry().width() > 0)
    pump(app, 1.0)  # the tray embeds the icon asynchronously
    icon = tray.tray.geometry()
    seen["icon"] = [icon.x(), icon.y(), icon.width(), icon.height()]

    # The menu, opened as a person would: a right-click on the icon in the tray.
    cx, cy = icon.center().x(), icon.center().y()
    for _attempt in range(3):
        subprocess.run(["xdotool", "mousemove", str(cx), str(cy), "click", "3"], check=True)
        seen["menu_opened_by_click"] = wait_for(app, tray.menu.isVisible, 3)
        if seen["menu_opened_by_click"]:
            break
    app.primaryScreen().grabWindow(0).save(str(out / f"screen-{lang}.png"))
    if seen["menu_opened_by_click"]:
        menu = tray.menu.geometry()
        shoot(app, menu.united(icon).adjusted(-12, -8, 12, 12), out / f"tray-menu-{lang}.png")
        tray.menu.hide()
        pump(app, 0.2)

    pairing = PairingDialog(PAIR_URL, time.time() + 287, "owner")
    shoot(app, place(app, pairing), out / f"tray-pair-{lang}.png")
    pairing.close()

    DeviceRegistry(tray.runtime.db).add(
        device_id="device-phone-aki", name="Aki's Pixel", role="owner", public_key=bytes(32)
    )

    async def ask() -> None:
        req = TurnRequest(text="", user_id="owner", role=Role.OWNER, channel="device-phone-aki")
        async for _ in tray.runtime.assistant.call_tool(
            req, "files_delete", {"path": "old-invoices/2023-03.pdf"}
        ):
            pass

    pending = tray.bridge.submit(ask())
    seen["approval_popup"] = wait_for(app, lambda: bool(tray.popups), 10)
    if seen["approval_popup"]:
        popup = next(iter(tray.popups.values()))
        shoot(app, place(app, popup), out / f"tray-approval-{lang}.png")
        popup.reject()
        pending.result(10)

    tray.open_chat()
    tray.chat.resize(520, 420)
    place(app, tray.chat)
    for text in (
        "/remember Dentist on Friday at 10:00" if lang == "en" else "/remember 金曜 10:00 に歯医者",
        "/recall dentist" if lang == "en" else "/recall 歯医者",
    ):
        tray.chat.input.setText(text)
        before = tray.chat.transcript
        tray.chat.button.click()
        wait_for(app, lambda b=before, t=text: len(tray.chat.transcript) > len(b) + len(t) + 12, 10)
        pump(app, 0.5)
    seen["chat_lines"] = tray.chat.transcript.count("\n") + 1
    shoot(app, place(app, tray.chat), out / f"tray-chat-{lang}.png")
    seen["menu_texts"] = [a.text() for a in tray.menu.actions() if a.text()]
    tray.shutdown()
    print(json.dumps(seen, ensure_ascii=False), flush=True)
    QTimer.singleShot(0, app.quit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
