"""The tray app: one process hosting the core, the Relay link and the UI.

Qt runs on the main thread; the core and the link run on the bridge's loop thread. Every call
into the core goes through `bridge.call` (result delivered back on the UI thread), so a slow
network or model never freezes a menu.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QSystemTrayIcon,
)

from app.core.assistant import TurnRequest
from app.core.events import (
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.providers import ProviderPool
from app.core.runtime import Runtime
from app.core.usage import format_totals
from app.home_network import PlainRelayRefused, check_relay_url, pairing_web_url
from app.link.relay_link import RelayLink
from app.local_server import server as local_server
from app.policy.approvals import ApprovalRequest
from app.policy.gate import Profile, Role
from app.private_profile import ProfileNotPrivate, make_private
from app.profile_lock import AlreadyRunning, ProfileLock
from app.settings import Settings, load_settings
from app.store.secrets import SecretStore
from app.tray import i18n
from app.tray.approval_dialog import ApprovalDialog
from app.tray.bridge import CoreBridge
from app.tray.chat_window import ChatWindow
from app.tray.devices_dialog import DeviceRow, DevicesDialog
from app.tray.icons import state_icon
from app.tray.providers_dialog import ProviderRow, ProvidersDialog
from app.tray.qr_dialog import PairingDialog
from app.update.errors import UpdateError, UpdateRefused
from app.update.health import take_notice
from app.update.schedule import check_periodically
from app.update.service import Available, UpdateService
from app.version import __version__

_LOGGER = logging.getLogger(__name__)
PAIRING_TTL_S = 300


class TrayApp(QObject):
    """Everything the owner sees on the PC."""

    chat_event = Signal(object)  # core events for the chat window, from the loop thread
    update_found = Signal(object)  # Available, from the periodic check
    update_progress = Signal(int, int)  # bytes done, bytes expected (download thread)
    confirm_requested = Signal(str, str, str, object)  # code, device name, role, answer(bool)
    show_requested = Signal()  # a second start of ORA on this profile (loop thread)

    def __init__(
        self,
        settings: Settings,
        *,
        secrets: SecretStore | None = None,
        start_link: bool = True,
        tray_icon: QSystemTrayIcon | None = None,
        profile_lock: ProfileLock | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.profile_lock = profile_lock
        self.bridge = CoreBridge()
        self.runtime: Runtime = self.bridge.submit(Runtime.open(settings, secrets=secrets)).result(
            30
        )
        self.local: local_server.LocalServer | None = self._start_local()
        self.show_requested.connect(self.come_forward)
        self.updates = UpdateService(settings.updates, __version__)
        self.available: Available | None = None
        self.update_found.connect(self.on_update_found)
        self.link: RelayLink | None = None
        self.confirm_requested.connect(self._ask_confirmation)
        if start_link:
            self._start_link()
        self.status = "offline"
        self._closed = False
        self.popups: dict[str, ApprovalDialog] = {}
        self._retired: list[ApprovalDialog] = []
        self.pairing_dialog: PairingDialog | None = None
        self.chat = ChatWindow()
        self.chat.send.connect(self.send_chat)
        self.chat.cancel.connect(self.cancel_chat)
        self.chat_event.connect(self._on_chat_event)
        self.bridge.approval_requested.connect(self.on_approval_requested)
        self.bridge.approval_resolved.connect(self.on_approval_resolved)
        self.bridge.link_status.connect(self.on_link_status)
        self.bridge.watch_approvals(self.runtime.broker)
        self.tray = tray_icon or QSystemTrayIcon(state_icon("offline"))
        self.menu = self._build_menu()
        self.tray.setContextMenu(self.menu)
        self._refresh_icon()
        notice = take_notice(settings.updates)
        if notice:
            self.tray.showMessage("ORA", notice, QSystemTrayIcon.MessageIcon.Warning, 30_000)
        self._start_update_checks()

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
        add("approvals", self.tr("Approvals"), self.show_pending_approvals)
        add("providers", self.tr("Providers"), self.open_providers)
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

    def _start_update_checks(self) -> None:
        # A no-op coroutine when updates are off: then there is no update traffic at all.
        self._update_checks = self.bridge.submit(
            check_periodically(
                self.updates,
                self.update_found.emit,
                interval_s=self.settings.updates.check_interval_h * 3600,
                first_delay_s=10,
            )
        )

    def _start_local(self) -> local_server.LocalServer | None:
        local = self.bridge.submit(
            local_server.start(self.runtime, on_show=self.show_requested.emit)
        ).result(10)
        if self.profile_lock is not None:
            self.profile_lock.describe(port=local.port if local is not None else None)
        return local

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
            self._tell(QMessageBox.Icon.Critical, self._plain_refusal(err))
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
        self.link.confirm_pairing = self._confirm_pairing
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

    # -- pairing --------------------------------------------------------------------------------

    async def _confirm_pairing(self, code: str, name: str, role: str) -> bool:
        """Typed-code pairing: the owner compares the code on both screens (core loop side)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()

        def reply(ok: bool) -> None:
            loop.call_soon_threadsafe(_settle, answer, ok)

        self.confirm_requested.emit(code, name, role, reply)
        return await answer

    def _ask_confirmation(self, code: str, name: str, role: str, reply: Any) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Pair a device"),
            self.tr("'%1' wants to pair as %2.\nDoes its screen show this code?\n\n%3")
            .replace("%1", name)
            .replace("%2", role)
            .replace("%3", code),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        # Refusing is the safe answer, so it is what Enter does.
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
        box.finished.connect(lambda result: reply(result == QMessageBox.StandardButton.Yes.value))
        self.confirm_box = box
        box.open()

    def open_pairing(self, role: str) -> None:
        if self.link is None:
            return

        def shown(result: object) -> None:
            if isinstance(result, BaseException):
                QMessageBox.warning(
                    None, "ORA", self.tr("Cannot pair now: the Relay is not reachable.")
                )
                return
            assert isinstance(result, tuple)
            url = str(result[1])
            expires = time.time() + PAIRING_TTL_S
            if self.pairing_dialog is not None and self.pairing_dialog.role != role:
                self.pairing_dialog.close()
                self.pairing_dialog = None
            if self.pairing_dialog is None:
                self.pairing_dialog = PairingDialog(url, expires, role)
                if note := self.network_note():
                    self.pairing_dialog.show_network(note)
                self.pairing_dialog.new_code_requested.connect(lambda: self._new_code(role))
                self.pairing_dialog.typed_code_requested.connect(lambda: self._typed_code(role))
            else:
                self.pairing_dialog.show_invitation(url, expires)
            self.pairing_dialog.show()
            self.pairing_dialog.raise_()

        self.bridge.call(self.link.open_pairing(role=role, ttl_s=PAIRING_TTL_S), shown)

    def _new_code(self, role: str) -> None:
        self.open_pairing(role)

    def _typed_code(self, role: str) -> None:
        if self.link is None:
            return

        def shown(result: object) -> None:
            if self.pairing_dialog is None:
                return
            if isinstance(result, BaseException):
                QMessageBox.warning(
                    None, "ORA", self.tr("Cannot pair now: the Relay is not reachable.")
                )
                return
            self.pairing_dialog.show_typed_code(str(result))

        self.bridge.call(self.link.open_code_pairing(role=role, ttl_s=PAIRING_TTL_S), shown)

    # -- approvals ------------------------------------------------------------------------------

    def on_approval_requested(self, request: ApprovalRequest) -> None:
        if self._closed:
            return
        name = ""
        if self.link is not None:
            device = self.link.registry.get(request.channel)
            name = device.name if device is not None else ""
        popup = ApprovalDialog(request, device_name=name)
        popup.decided.connect(
            lambda approve, r=request: self.bridge.answer(self.runtime.broker, r, approve)
        )
        popup.finished.connect(lambda _=0, a=request.approval_id: self._popup_closed(a))
        self.popups[request.approval_id] = popup
        popup.show()
        popup.raise_()
        popup.activateWindow()
        self.tray.showMessage(
            self.tr("ORA needs your approval"),
            f"{request.tool} ({request.risk.name})",
            QSystemTrayIcon.MessageIcon.Warning,
            10_000,
        )
        self._refresh_icon()

    def on_approval_resolved(self, approval_id: str, outcome: str) -> None:
        popup = self.popups.get(approval_id)
        if popup is not None:
            popup.resolved_elsewhere(outcome)

    def _popup_closed(self, approval_id: str) -> None:
        # Dropped on the next turn of the event loop: deleting a dialog inside its own
        # `finished` signal crashes Qt.
        popup = self.popups.pop(approval_id, None)
        if popup is not None:
            popup.deleteLater()
            self._retired.append(popup)
            QTimer.singleShot(0, lambda: self._retired.remove(popup))
        self._refresh_icon()

    def show_pending_approvals(self) -> None:
        if not self.popups:
            self.tray.showMessage(
                "ORA", self.tr("Nothing is waiting for your approval."), state_icon(self.status)
            )
        for popup in self.popups.values():
            popup.show()
            popup.raise_()

    # -- devices and providers -----------------------------------------------------------------

    def device_rows(self) -> list[DeviceRow]:
        if self.link is None:
            return []
        return [
            DeviceRow(d.device_id, d.name, d.role, d.last_seen, d.revoked)
            for d in self.link.devices()
        ]

    def open_devices(self) -> DevicesDialog:
        dialog = DevicesDialog(self.device_rows())
        dialog.revoke.connect(lambda device_id: self.revoke(device_id, dialog))
        self.devices_dialog = dialog  # a window without a parent lives as long as its reference
        dialog.show()
        return dialog

    def revoke(self, device_id: str, dialog: DevicesDialog | None = None) -> None:
        if self.link is None:
            return

        def done(_result: object) -> None:
            if dialog is not None:
                dialog.show_devices(self.device_rows())

        self.bridge.call(self.link.revoke(device_id), done)

    def provider_rows(self) -> list[ProviderRow]:
        return [
            ProviderRow(s.config.name, s.config.model, s.enabled, s.reason, s.config.key_ref)
            for s in self.runtime.providers.statuses
        ]

    def provider_usage(self) -> list[str]:
        """Tokens and cost per provider over the last 30 days, from this PC's record."""
        ledger = self.runtime.providers.usage
        return format_totals(ledger.totals(time.time() - 30 * 86400)) if ledger else []

    def open_providers(self) -> ProvidersDialog:
        dialog = ProvidersDialog(self.provider_rows(), self.runtime.secrets.backend_description)
        dialog.show_usage(self.provider_usage())
        dialog.key_entered.connect(lambda name, key: self.save_key(name, key, dialog))
        dialog.test_requested.connect(lambda name: self.test_provider(name, dialog))
        self.providers_dialog = dialog
        dialog.show()
        return dialog

    def save_key(self, name: str, key: str, dialog: ProvidersDialog | None = None) -> None:
        """Store an API key in the secret store and re-check which providers are enabled."""
        self.runtime.secrets.set(name, key)
        # Providers found on this PC stay; configured ones are re-checked for their keys.
        detected = [
            s for s in self.runtime.providers.statuses if s.config not in self.settings.providers
        ]
        fresh = ProviderPool.from_config(self.settings.providers, self.runtime.secrets)
        self.runtime.providers.statuses[:] = fresh.statuses + detected
        if dialog is not None:
            dialog.show_providers(self.provider_rows())
            dialog.message.setText(self.tr("Key saved."))

    def test_provider(self, name: str, dialog: ProvidersDialog | None = None) -> None:
        probe = self.runtime.providers.probe(name)

        def done(result: object) -> None:
            if dialog is None:
                return
            if isinstance(result, BaseException):
                dialog.message.setText(
                    self.tr("%1 did not answer: %2").replace("%1", name).replace("%2", str(result))
                )
            else:
                dialog.message.setText(
                    self.tr("%1 answered: %2").replace("%1", name).replace("%2", str(result)[:80])
                )

        self.bridge.call(probe, done)

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
        for name in ("pairing_dialog", "devices_dialog", "providers_dialog"):
            window = getattr(self, name, None)
            if window is not None:
                window.close()
                window.deleteLater()
                setattr(self, name, None)
        if self.available is not None:
            self.on_update_found(self.available)
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
        if isinstance(event, TextDelta):
            self.chat.show_delta(event.text)
        elif isinstance(event, ToolStarted):
            self.chat.show_tool(event.tool, self.tr("running"))
        elif isinstance(event, ToolFinished):
            self.chat.show_tool(event.tool, event.outcome)
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
            self._tell(QMessageBox.Icon.Critical, str(err))
            self.actions[f"profile:{self.settings.profile.value}"].setChecked(True)
            return
        new_lock = None
        if self.profile_lock is not None:
            try:
                new_lock = ProfileLock.acquire(settings.state_dir, profile.value)
            except AlreadyRunning:
                self._tell(
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
        self.runtime = self.bridge.submit(Runtime.open(self.settings)).result(30)
        self.local = self._start_local()
        self.bridge.watch_approvals(self.runtime.broker)
        if self.link is not None:
            self._start_link()
        self._start_update_checks()
        self._refresh_icon()

    def check_updates(self) -> None:
        """The menu's "Check for updates": ask now, then offer what was found."""
        if not self.updates.enabled:
            self._tell(
                QMessageBox.Icon.Information,
                self.tr(
                    "Updates are turned off. Set [updates] url in config.toml to turn them on."
                ),
            )
            return

        def checked(result: object) -> None:
            if isinstance(result, UpdateRefused):
                self._tell(
                    QMessageBox.Icon.Critical,
                    self.tr("The update was refused: %1").replace("%1", str(result)),
                )
            elif isinstance(result, BaseException):
                self._tell(
                    QMessageBox.Icon.Warning,
                    self.tr("Could not check for updates: %1").replace("%1", str(result)),
                )
            elif result is None:
                self._tell(
                    QMessageBox.Icon.Information,
                    self.tr("ORA is up to date (%1).").replace("%1", __version__),
                )
            else:
                assert isinstance(result, Available)
                self.on_update_found(result)
                self.offer_update()

        self.bridge.call(asyncio.to_thread(self.updates.check), checked)

    def on_update_found(self, available: Available) -> None:
        if self._closed:
            return
        first = self.available is None
        self.available = available
        self.actions["updates"].setText(
            self.tr("Update available: ORA %1").replace("%1", available.version)
        )
        if first:
            self.tray.showMessage(
                "ORA", self.tr("Update available: ORA %1").replace("%1", available.version)
            )
        self.actions["updates"].triggered.disconnect()
        self.actions["updates"].triggered.connect(self.offer_update)

    def offer_update(self) -> None:
        """Ask, then download with visible progress, verify, install beside this version, restart."""
        available = self.available
        if available is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "ORA",
            self.tr("Update available: ORA %1").replace("%1", available.version),
        )
        install = box.addButton(self.tr("Install and restart"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Later"), QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(
            lambda button: self._install_update(available) if button is install else None
        )
        self.update_box = box
        box.open()

    def _install_update(self, available: Available) -> None:
        progress = QProgressDialog(
            self.tr("Downloading ORA %1…").replace("%1", available.version), "", 0, 100
        )
        progress.setCancelButton(None)  # tufup cannot stop a download half-way
        progress.setMinimumDuration(0)
        progress.setValue(0)
        self.update_dialog = progress
        self.update_percent = 0

        def show(done: int, total: int) -> None:
            self.update_percent = max(self.update_percent, int(100 * done / total) if total else 0)
            progress.setValue(self.update_percent)

        self.update_progress.connect(show)

        def downloaded(result: object) -> None:
            progress.close()
            self.update_progress.disconnect(show)
            if isinstance(result, BaseException):
                text = (
                    self.tr("The update was refused: %1")
                    if isinstance(result, UpdateRefused)
                    else self.tr("Could not download the update: %1")
                )
                self._tell(QMessageBox.Icon.Critical, text.replace("%1", str(result)))
                return
            try:
                self.updates.apply_and_restart()
            except UpdateError as err:
                self._tell(
                    QMessageBox.Icon.Critical,
                    self.tr("The update was refused: %1").replace("%1", str(err)),
                )
                return
            self.quit()

        self.bridge.call(
            asyncio.to_thread(self.updates.download, self.update_progress.emit), downloaded
        )

    def _tell(self, icon: QMessageBox.Icon, text: str) -> None:
        # Not modal: a message must not stop the core's results reaching the UI meanwhile.
        box = QMessageBox(icon, "ORA", text)
        self.message_box = box
        box.open()

    def _close_core(self) -> None:
        self._update_checks.cancel()
        for popup in list(self.popups.values()):
            popup.resolved_elsewhere("denied")
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
        for name in (
            "pairing_dialog",
            "devices_dialog",
            "providers_dialog",
            "confirm_box",
            "update_box",
            "update_dialog",
            "message_box",
        ):
            if (window := getattr(self, name, None)) is not None:
                windows.append(window)
        for window in windows:
            window.deleteLater()


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
