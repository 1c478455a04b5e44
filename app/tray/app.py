"""The tray app: one process hosting the core, the Relay link and the UI.

Qt runs on the main thread; the core and the link run on the bridge's loop thread. Every call
into the core goes through `bridge.call` (result delivered back on the UI thread), so a slow
network or model never freezes a menu.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QMessageBox,
    QSystemTrayIcon,
)

from app.core.assistant import TurnRequest
from app.core.events import (
    ApprovalPending,
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.runtime import Runtime
from app.home_network import PlainRelayRefused, check_relay_url, pairing_web_url
from app.link.relay_link import RelayLink
from app.local_server import server as local_server
from app.policy.gate import Profile, Role
from app.private_profile import ProfileNotPrivate, make_private
from app.profile_lock import AlreadyRunning, ProfileLock
from app.settings import Settings, load_settings
from app.store.secrets import SecretStore
from app.tray import i18n
from app.tray.approval_dialog import ApprovalDialog
from app.tray.approvals_controller import ApprovalsController
from app.tray.backup_controller import BackupController
from app.tray.bridge import CoreBridge
from app.tray.chat_window import ChatWindow
from app.tray.core_start import OpenedCore, open_core
from app.tray.devices_controller import DevicesController
from app.tray.devices_dialog import DeviceRow, DevicesDialog
from app.tray.icons import state_icon
from app.tray.pairing_controller import PairingController
from app.tray.providers_controller import ProvidersController
from app.tray.providers_dialog import ProvidersDialog
from app.tray.qr_dialog import PairingDialog
from app.tray.update_controller import UpdateController
from app.update.health import take_notice

_LOGGER = logging.getLogger(__name__)


class TrayApp(QObject):
    """Everything the owner sees on the PC."""

    chat_event = Signal(object)  # core events for the chat window, from the loop thread
    show_requested = Signal()  # a second start of ORA on this profile (loop thread)

    def __init__(
        self,
        settings: Settings,
        *,
        secrets: SecretStore | None = None,
        start_link: bool = True,
        tray_icon: QSystemTrayIcon | None = None,
        profile_lock: ProfileLock | None = None,
        core: tuple[CoreBridge, OpenedCore] | None = None,
    ) -> None:
        """`core` is a bridge and the core already opened on it (app/tray/launch.py)."""
        super().__init__()
        self.settings = settings
        self.profile_lock = profile_lock
        self.bridge = core[0] if core is not None else CoreBridge()
        self.adopt_core(
            core[1] if core else self.bridge.submit(open_core(settings, secrets=secrets)).result(30)
        )
        self.show_requested.connect(self.come_forward)
        self._closed = False
        # One controller per concern; each owns its windows and talks to the core through
        # the bridge (success and error callbacks, on the UI thread).
        self.updates_ui = UpdateController(self)
        self.pairing = PairingController(self)
        self.providers_ui = ProvidersController(self)
        self.approvals = ApprovalsController(self)
        self.devices_ui = DevicesController(self)
        self.backup_ui = BackupController(self)
        self.link: RelayLink | None = None
        if start_link:
            self._start_link()
        self.status = "offline"
        self.chat = ChatWindow()
        self.chat.send.connect(self.send_chat)
        self.chat.cancel.connect(self.cancel_chat)
        self.chat_event.connect(self._on_chat_event)
        self.bridge.approval_requested.connect(self.approvals.on_requested)
        self.bridge.approval_resolved.connect(self.approvals.on_resolved)
        self.bridge.link_status.connect(self.on_link_status)
        self.bridge.watch_approvals(self.runtime.broker)
        self.tray = tray_icon or QSystemTrayIcon(state_icon("offline"))
        self.menu = self._build_menu()
        self.tray.setContextMenu(self.menu)
        self._refresh_icon()
        notice = take_notice(settings.updates)
        if notice:
            self.tray.showMessage("ORA", notice, QSystemTrayIcon.MessageIcon.Warning, 30_000)
        self.updates_ui.start_checks()

    # -- menu ---------------------------------------------------------------------------------

    def _build_menu(self) -> QMenu:
        menu = QMenu()
        self.actions: dict[str, QAction] = {}

        def add(key: str, text: str, slot: Any) -> None:
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
            self.actions[key] = action

        add("chat", self.tr("Open chat"), self.open_chat)
        add("browser", self.tr("Open in browser"), self.open_in_browser)
        add("pair", self.tr("Pair a device"), lambda: self.open_pairing("owner"))
        add("share", self.tr("Share with a friend"), lambda: self.open_pairing("guest"))
        add("devices", self.tr("Devices"), self.open_devices)
        add("approvals", self.tr("Approvals"), self.approvals.show_pending)
        add("providers", self.tr("Providers"), self.open_providers)
        self.backup_ui.add_actions(add)
        profiles = menu.addMenu(self.tr("Profile"))
        group = QActionGroup(profiles)
        for profile in Profile:
            action = QAction(self._words()[profile.value], profiles, checkable=True)
            action.setChecked(profile is self.settings.profile)
            action.triggered.connect(lambda _=False, p=profile: self.switch_profile(p))
            group.addAction(action)
            profiles.addAction(action)
            self.actions[f"profile:{profile.value}"] = action
        languages = menu.addMenu(self.tr("Language"))
        chosen = i18n.saved_language(self.settings.state_dir)
        language_group = QActionGroup(languages)
        # Each language is named in itself, so it can be found from either one.
        for code, label in (
            ("", self.tr("Follow the system")),
            ("ja", "日本語"),
            ("en", "English"),
        ):
            action = QAction(label, languages, checkable=True)
            action.setChecked(code == chosen)
            action.triggered.connect(lambda _=False, c=code: self.set_language(c))
            language_group.addAction(action)
            languages.addAction(action)
            self.actions[f"language:{code or 'system'}"] = action
        add("updates", self.tr("Check for updates"), self.check_updates)
        menu.addSeparator()
        add("quit", self.tr("Quit"), self.quit)
        return menu

    def on_link_status(self, status: str) -> None:
        self.status = status
        self._refresh_icon()

    def _refresh_icon(self) -> None:
        if self._closed:
            return  # a late status from the link thread, after Quit
        state = "attention" if self.popups else self.status
        self.tray.setIcon(state_icon(state))
        self.actions["approvals"].setText(
            self.tr("Approvals (%1)").replace("%1", str(len(self.popups)))
            if self.popups
            else self.tr("Approvals")
        )
        tip = (
            self.tr("ORA — %1 — %2")
            .replace("%1", self._words()[self.settings.profile.value])
            .replace("%2", self._words().get(self.status, self.status))
        )
        note = self.network_note()
        self.tray.setToolTip(f"{tip}\n{note}" if note else tip)

    def _words(self) -> dict[str, str]:
        # Spelled out so that lupdate finds each word.
        return {
            "connected": self.tr("connected"),
            "connecting": self.tr("connecting"),
            "offline": self.tr("offline"),
            "private": self.tr("private"),
            "shared": self.tr("shared"),
        }

    def adopt_core(self, core: OpenedCore) -> None:
        """Take an opened core (at start, on a profile switch, after a restore) as this tray's."""
        self.runtime: Runtime = core.runtime
        self.local: local_server.LocalServer | None = core.local
        core.on_show.target = self.show_requested.emit
        if self.profile_lock is not None:
            self.profile_lock.describe(port=core.local.port if core.local is not None else None)

    def come_forward(self) -> None:
        """Another start of ORA on this profile: show this one instead of running twice."""
        self.open_chat()
        self.chat.activateWindow()
        self.tray.showMessage(
            "ORA",
            self.tr("ORA is already running; here it is."),
            QSystemTrayIcon.MessageIcon.Information,
            5_000,
        )

    def _start_link(self) -> None:
        try:
            check_relay_url(self.settings.relay_url, home_network=self.settings.home_network)
        except PlainRelayRefused as err:
            # ORA runs on this PC; it only stays off a Relay it must not speak plain http to.
            self.tell(QMessageBox.Icon.Critical, self._plain_refusal(err))
            self.link = None
            return
        self.link = RelayLink(
            runtime=self.runtime,
            relay_urls=[self.settings.relay_url],
            web_url=pairing_web_url(
                self.settings.relay_url,
                self.settings.web_url,
                home_network=self.settings.home_network,
            ),
        )
        self.link.on_status(self.bridge.link_status.emit)
        self.link.confirm_pairing = self.pairing.confirm
        self.link.on_paired = self.pairing.paired.emit
        self.bridge.loop.call_soon_threadsafe(self.link.start)

    def _plain_refusal(self, err: PlainRelayRefused) -> str:
        if err.reason == "public":
            text = self.tr(
                "ORA will not connect to the Relay at %1 over plain http: the connection would "
                "not be encrypted beyond your PC. Set an https:// relay_url."
            )
        else:
            text = self.tr(
                "The Relay at %1 is on a home-network address, but home-network mode was not "
                "chosen, so ORA will not use plain http to it. Set home_network = true in "
                "config.toml (or use https)."
            )
        return text.replace("%1", err.url)

    def network_note(self) -> str:
        """Which network the tray offers pairing on, said plainly (pairing dialog, tooltip)."""
        if not self.settings.home_network or self.link is None:
            return ""
        host = urlsplit(self.settings.relay_url).hostname or ""
        return self.tr(
            "Home network: phones on this network pair through %1. The connection is not "
            "encrypted (plain http); your messages are end-to-end encrypted."
        ).replace("%1", host)

    # -- devices and providers -----------------------------------------------------------------

    def device_rows(self) -> list[DeviceRow]:
        return self.devices_ui.rows()

    def open_devices(self) -> DevicesDialog:
        return self.devices_ui.open()

    # -- chat -----------------------------------------------------------------------------------

    def open_chat(self) -> None:
        self.chat.show()
        self.chat.raise_()

    def set_language(self, code: str) -> None:
        """Switch the tray's language now and remember it for this profile."""
        i18n.save_language(self.settings.state_dir, code)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        i18n.switch(app, code or self.settings.locale)
        old_menu, self.menu = self.menu, self._build_menu()
        self.tray.setContextMenu(self.menu)
        old_menu.deleteLater()
        # The chat keeps its conversation; other windows close and reopen in the new language.
        old_chat, was_open = self.chat, self.chat.isVisible()
        self.chat = ChatWindow()
        self.chat.send.connect(self.send_chat)
        self.chat.cancel.connect(self.cancel_chat)
        self.chat.log.setHtml(old_chat.log.toHtml())
        old_chat.close()
        old_chat.deleteLater()
        if was_open:
            self.open_chat()
        self.pairing.close()
        self.providers_ui.close()
        self.devices_ui.close()
        if self.updates_ui.available is not None:
            self.updates_ui.on_update_found(self.updates_ui.available)
        self._refresh_icon()

    def open_in_browser(self) -> bool:
        """The web client served by the local server, already signed in as the owner at this PC."""
        if self.local is None:
            QMessageBox.warning(
                None,
                "ORA",
                self.tr("The local server is not running (its port is in use); see the log."),
            )
            return False
        return QDesktopServices.openUrl(QUrl(self.local.owner_url()))

    def send_chat(self, text: str) -> None:
        turn_id = f"tray-{time.monotonic_ns()}"
        self._chat_turn = turn_id

        async def turn() -> None:
            req = TurnRequest(
                text=text, user_id="owner", role=Role.OWNER, channel="tray", turn_id=turn_id
            )
            async for event in self.runtime.assistant.turn(req):
                self.chat_event.emit(event)

        self.bridge.call(turn(), lambda _r: None)

    def cancel_chat(self) -> None:
        """The chat window's Stop: cancel the turn it is showing, on the core's loop."""
        turn_id, assistant = getattr(self, "_chat_turn", ""), self.runtime.assistant
        self.bridge.loop.call_soon_threadsafe(
            lambda: assistant.cancel(turn_id, user_id="owner", role=Role.OWNER)
        )

    def _on_chat_event(self, event: object) -> None:
        if self._closed:
            return  # a late event from the core after Quit: its window is gone
        if isinstance(event, TextDelta):
            self.chat.show_delta(event.text)
        elif isinstance(event, ToolStarted | ToolFinished | ApprovalPending):
            self.chat.show_tool_event(event)
        elif isinstance(event, TurnDone):
            self.chat.show_done(event.text)
        elif isinstance(event, PlanUpdate):
            steps = [(st.description, st.tool, str(st.status)) for st in event.steps]
            self.chat.show_plan(steps, event.current, event.revision)
        elif isinstance(event, TurnCancelled):
            self.chat.show_cancelled()

    # -- profile, updates, quit -------------------------------------------------------------------

    def switch_profile(self, profile: Profile) -> None:
        """Close this profile's core and link and open the other's (nothing is shared)."""
        if profile is self.settings.profile:
            return
        settings = load_settings(profile.value)
        try:
            make_private(settings.state_dir)
        except ProfileNotPrivate as err:
            self.tell(QMessageBox.Icon.Critical, str(err))
            self.actions[f"profile:{self.settings.profile.value}"].setChecked(True)
            return
        new_lock = None
        if self.profile_lock is not None:
            try:
                new_lock = ProfileLock.acquire(settings.state_dir, profile.value)
            except AlreadyRunning:
                self.tell(
                    QMessageBox.Icon.Warning,
                    self.tr("ORA is already running for the %1 profile in another window.").replace(
                        "%1", self._words()[profile.value]
                    ),
                )
                self.actions[f"profile:{self.settings.profile.value}"].setChecked(True)
                return
        self._close_core()
        if self.profile_lock is not None:
            self.profile_lock.release()
        self.profile_lock = new_lock
        self.settings = settings
        self.adopt_core(self.bridge.submit(open_core(self.settings)).result(30))
        self.bridge.watch_approvals(self.runtime.broker)
        if self.link is not None:
            self._start_link()
        self.updates_ui.start_checks()
        self._refresh_icon()

    # -- what the menu and the tests reach: the controllers' entry points and windows ----------

    @property
    def closed(self) -> bool:
        """True after Quit: late results from the core are then dropped."""
        return self._closed

    def open_pairing(self, role: str) -> None:
        self.pairing.open(role)

    def open_providers(self) -> ProvidersDialog:
        return self.providers_ui.open()

    def check_updates(self) -> None:
        self.updates_ui.check_now()

    @property
    def popups(self) -> dict[str, ApprovalDialog]:
        return self.approvals.popups

    def refresh_icon(self) -> None:
        self._refresh_icon()

    @property
    def pairing_dialog(self) -> PairingDialog | None:
        return self.pairing.dialog

    @property
    def confirm_box(self) -> QMessageBox | None:
        return self.pairing.confirm_box

    @property
    def devices_dialog(self) -> DevicesDialog | None:
        return self.devices_ui.dialog

    @property
    def providers_dialog(self) -> ProvidersDialog | None:
        return self.providers_ui.dialog

    @property
    def update_box(self) -> QMessageBox | None:
        return self.updates_ui.box

    @property
    def update_percent(self) -> int:
        return self.updates_ui.percent

    def tell(self, icon: QMessageBox.Icon, text: str) -> None:
        # Not modal: a message must not stop the core's results reaching the UI meanwhile.
        box = QMessageBox(icon, "ORA", text)
        self.message_box = box
        box.open()

    def _close_core(self) -> None:
        self.updates_ui.stop_checks()
        self.approvals.deny_all()
        if self.link is not None:
            self.bridge.submit(self.link.stop()).result(10)
        if self.local is not None:
            self.bridge.submit(self.local.stop()).result(10)
            self.local = None
        self.bridge.submit(self.runtime.close()).result(10)

    def quit(self) -> None:
        self.shutdown()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def shutdown(self) -> None:
        """Stop the core, the link and the loop thread."""
        self.tray.hide()
        self._closed = True
        self._close_core()
        self.bridge.stop()
        # Windows without a parent must go while the QApplication still exists; left to
        # Python's exit-time collection they are deleted after it, and Qt crashes.
        windows = [self.chat, self.menu, self.tray, *self.popups.values()]
        windows += self.pairing.windows() + self.updates_ui.windows() + self.backup_ui.windows()
        if self.providers_ui.dialog is not None:
            windows.append(self.providers_ui.dialog)
        windows += self.devices_ui.windows()
        if (box := getattr(self, "message_box", None)) is not None:
            windows.append(box)
        for window in windows:
            window.deleteLater()
