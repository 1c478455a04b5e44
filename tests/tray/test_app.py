"""The tray app's flows, offscreen: chat, provider key, devices and revoke, profile, approvals."""

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.policy.gate import Profile, Risk, Role
from app.settings import ProviderConfig
from app.tools.spec import ToolSpec
from app.tray.app import TrayApp
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


def test_menu_has_every_entry(qtbot: Any, tray_factory: Any) -> None:
    tray = tray_factory()
    for key in (
        "chat",
        "pair",
        "share",
        "devices",
        "approvals",
        "providers",
        "profile:private",
        "profile:shared",
        "updates",
        "quit",
    ):
        assert key in tray.actions
    assert tray.actions["profile:private"].isChecked()


def test_chat_window_streams_a_reply(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    tray = tray_factory(
        providers=(
            ProviderConfig(name="fake", base_url=fake_openai.base_url, model="m", local=True),
        )
    )
    fake_openai.script.append(Reply(text="Your train leaves at 8:12", chunk_delay_s=0.01))
    tray.open_chat()
    qtbot.keyClicks(tray.chat.input, "when is my train?")
    qtbot.keyClick(tray.chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "8:12" in tray.chat.transcript, timeout=40000)
    assert "when is my train?" in tray.chat.transcript


def test_a_reply_in_markdown_is_shown_rendered_not_as_marks(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    tray = tray_factory(
        providers=(
            ProviderConfig(name="fake", base_url=fake_openai.base_url, model="m", local=True),
        )
    )
    fake_openai.script.append(
        Reply(text="**Two** meetings:\n\n- `10:00` design review\n- 15:00 1:1", chunk_delay_s=0.01)
    )
    tray.open_chat()
    qtbot.keyClicks(tray.chat.input, "what is on today?")
    qtbot.keyClick(tray.chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "design review" in tray.chat.transcript, timeout=40000)
    qtbot.waitUntil(lambda: "**" not in tray.chat.transcript, timeout=5000)
    assert "`" not in tray.chat.transcript and "- 15:00" not in tray.chat.transcript
    assert "Two meetings" in tray.chat.transcript and "15:00 1:1" in tray.chat.transcript
    assert "<b>" not in tray.chat.transcript


def test_adding_a_provider_key_enables_it(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    tray = tray_factory(
        providers=(
            ProviderConfig(
                name="cloudy", base_url=fake_openai.base_url, model="m", key_ref="cloudy"
            ),
        )
    )
    dialog = tray.open_providers()
    qtbot.addWidget(dialog)
    assert (
        "disabled" in dialog.list.item(0).text()
        and "under the name cloudy" in dialog.list.item(0).text()
    )
    dialog.list.setCurrentRow(0)
    qtbot.keyClicks(dialog.key, "sk-test-123")
    qtbot.mouseClick(dialog.save, Qt.MouseButton.LeftButton)
    # Saved off the UI thread (the keyring can be slow); the dialog says so when done.
    qtbot.waitUntil(lambda: dialog.message.text() == "Key saved.", timeout=10000)
    assert tray.runtime.secrets.get("cloudy") == "sk-test-123" and dialog.key.text() == ""
    assert "enabled" in dialog.list.item(0).text()
    qtbot.mouseClick(dialog.test, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "answered" in dialog.message.text(), timeout=10000)
    assert fake_openai.auth_headers[-1] == "Bearer sk-test-123"


def test_switching_profile_opens_the_other_state(qtbot: Any, tray_factory: Any) -> None:
    tray = tray_factory()
    private_dir = tray.runtime.settings.state_dir
    tray.switch_profile(Profile.SHARED)
    assert (
        tray.runtime.settings.profile is Profile.SHARED
        and tray.runtime.settings.state_dir != private_dir
    )


def test_approval_popup_and_answer_from_another_device(qtbot: Any, tray_factory: Any) -> None:
    tray = tray_factory()
    ran: list[str] = []

    async def purge(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        ran.append("yes")
        return {}

    tray.runtime.registry.add(
        ToolSpec(
            name="purge",
            description="purge",
            parameters={"type": "object"},
            risk=Risk.HIGH,
            handler=purge,
        )
    )

    async def call() -> list[Any]:
        from app.core.assistant import TurnRequest

        req = TurnRequest(text="", user_id="owner", role=Role.OWNER, channel="device-phone")
        return [e async for e in tray.runtime.assistant.call_tool(req, "purge", {})]

    pending = tray.bridge.submit(call())
    qtbot.waitUntil(lambda: bool(tray.popups), timeout=5000)
    popup = next(iter(tray.popups.values()))
    request = popup.request
    assert tray.actions["approvals"].text() == "Approvals (1)"

    async def answer_elsewhere() -> None:
        tray.runtime.broker.answer(
            request.approval_id,
            approve=False,
            digest=request.digest,
            answered_by="owner",
            answerer_role=Role.OWNER,
            channel="device-laptop",
        )

    tray.bridge.submit(answer_elsewhere()).result(5)
    qtbot.waitUntil(lambda: not tray.popups, timeout=5000)
    assert popup.outcome == "denied" and ran == []
    assert tray.actions["approvals"].text() == "Approvals"
    assert pending.result(5)[-1].outcome == "denied"


def test_devices_dialog_revokes_a_paired_device(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    assert tray.link is not None
    _, url = tray.bridge.submit(tray.link.open_pairing()).result(5)
    phone = Device(relay.url, name="Aki's phone")
    tray.bridge.submit(phone.pair(url)).result(10)
    dialog = tray.open_devices()
    qtbot.addWidget(dialog)
    assert (
        dialog.table.item(0, 0).text() == "Aki's phone"
        and dialog.table.item(0, 1).text() == "owner"
    )
    qtbot.mouseClick(dialog.table.cellWidget(0, 3), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.table.item(0, 1).text() == "revoked", timeout=5000)
    assert tray.link.registry.active(phone.device_id) is None
    tray.bridge.submit(phone.close()).result(5)


def test_the_owner_renames_a_device_and_sees_it_online_now(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    """Devices have names the owner chooses (Rename, type, Enter) and say "online now" for a
    device connected this moment."""
    from PySide6.QtWidgets import QLineEdit

    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    assert tray.link is not None
    _, url = tray.bridge.submit(tray.link.open_pairing()).result(5)
    phone = Device(relay.url, name="Android phone")
    tray.bridge.submit(phone.pair(url)).result(10)
    tray.bridge.submit(phone.connect()).result(10)
    qtbot.waitUntil(lambda: phone.device_id in tray.link.online_devices(), timeout=10000)
    dialog = tray.open_devices()
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 2).text() == "online now"
    qtbot.mouseClick(dialog.table.cellWidget(0, 5), Qt.MouseButton.LeftButton)
    editor = dialog.table.findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClicks(editor, "Aki's Pixel")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: tray.link.registry.get(phone.device_id).name == "Aki's Pixel", timeout=5000
    )
    qtbot.waitUntil(lambda: dialog.table.item(0, 0).text() == "Aki's Pixel", timeout=5000)
    tray.bridge.submit(phone.close()).result(5)
    qtbot.waitUntil(lambda: phone.device_id not in tray.link.online_devices(), timeout=10000)
    tray.devices_ui.close()
    dialog = tray.open_devices()
    qtbot.addWidget(dialog)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", dialog.table.item(0, 2).text())


def _paired_roles(tray: TrayApp) -> dict[str, str]:
    return {row.name: row.role for row in tray.device_rows()}


@pytest.mark.parametrize(
    ("action", "role", "profile"),
    [("pair", "owner", "private"), ("pair", "owner", "shared"), ("share", "guest", "shared")],
)
def test_pairing_from_the_menu(
    qtbot: Any, tray_factory: Any, relay: RelayProcess, action: str, role: str, profile: str
) -> None:
    tray = tray_factory(relay_url=relay.url, start_link=True, profile=profile)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    tray.actions[action].trigger()
    qtbot.waitUntil(
        lambda: tray.pairing_dialog is not None and tray.pairing_dialog.isVisible(), timeout=5000
    )
    phone = Device(relay.url, name="Mei's phone")
    tray.bridge.submit(phone.pair(tray.pairing_dialog.url)).result(10)
    qtbot.waitUntil(lambda: _paired_roles(tray).get("Mei's phone") == role, timeout=5000)
    tray.bridge.submit(phone.close()).result(5)


def test_sharing_the_private_profile_is_refused_with_a_message(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    tray.actions["share"].trigger()
    qtbot.waitUntil(lambda: getattr(tray, "message_box", None) is not None, timeout=5000)
    assert "private profile" in tray.message_box.text() and tray.message_box.isVisible()
    assert tray.pairing_dialog is None
    tray.message_box.close()


@pytest.mark.parametrize("same_code", [True, False])
def test_typed_code_pairing_waits_for_the_owner_to_compare_codes(
    qtbot: Any, tray_factory: Any, relay: RelayProcess, same_code: bool
) -> None:
    tray = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    tray.open_pairing("owner")
    qtbot.waitUntil(lambda: tray.pairing_dialog is not None, timeout=5000)
    qtbot.mouseClick(tray.pairing_dialog.type_code, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tray.pairing_dialog.code.isVisible(), timeout=5000)
    match = re.search(r">([0-9A-Z]{5}-[0-9A-Z]{5})<", tray.pairing_dialog.code.text())
    assert match is not None
    laptop = Device(relay.url, name="Office laptop")
    pairing = tray.bridge.submit(laptop.pair_with_code(match.group(1)))
    qtbot.waitUntil(lambda: getattr(tray, "confirm_box", None) is not None, timeout=10000)
    box = tray.confirm_box
    assert "Office laptop" in box.text()
    # Enter alone refuses: the owner has to choose Yes.
    assert box.defaultButton() is box.button(box.StandardButton.No)
    qtbot.mouseClick(
        box.button(box.StandardButton.Yes if same_code else box.StandardButton.No),
        Qt.MouseButton.LeftButton,
    )
    if same_code:
        sas, _ = pairing.result(15)
        assert sas in box.text()
        qtbot.waitUntil(lambda: "Office laptop" in _paired_roles(tray), timeout=5000)
    else:
        with pytest.raises(Exception, match=r"refused|denied|403|declined"):
            pairing.result(15)
        assert "Office laptop" not in _paired_roles(tray)
    tray.bridge.submit(laptop.close()).result(5)


def test_the_menu_speaks_japanese(qtbot: Any, qapp: Any, tray_factory: Any) -> None:
    from app.tray import i18n

    translator = i18n.install(qapp, "ja")
    assert translator is not None
    try:
        tray = tray_factory()
        assert tray.actions["chat"].text() == "チャットを開く"
        assert tray.actions["quit"].text() == "終了"
        assert tray.actions["profile:private"].text() == "個人"
        assert "オフライン" in tray.tray.toolTip()
    finally:
        qapp.removeTranslator(translator)


def test_every_tray_string_has_a_japanese_translation(tmp_path: Path) -> None:
    """Re-extract the strings from the source: a new English-only string fails here."""
    import shutil
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    root = Path(__file__).resolve().parents[2]
    ts = tmp_path / "ora_ja.ts"
    shutil.copy(root / "assets" / "i18n" / "ora_ja.ts", ts)
    lupdate = Path(sys.executable).parent / "pyside6-lupdate"
    sources = sorted(str(p) for p in (root / "app" / "tray").glob("*.py"))
    subprocess.run([str(lupdate), *sources, "-ts", str(ts)], check=True, capture_output=True)
    untranslated = [
        m.findtext("source")
        for m in ET.parse(ts).iter("message")
        if (t := m.find("translation")) is not None
        and (t.get("type") == "unfinished" or not (t.text or "").strip())
    ]
    assert untranslated == []


def test_windows_opened_from_the_menu_stay_open(qtbot: Any, tray_factory: Any) -> None:
    import gc

    tray = tray_factory()
    tray.actions["devices"].trigger()
    tray.actions["providers"].trigger()
    gc.collect()
    qtbot.wait(50)
    assert tray.devices_dialog.isVisible() and tray.providers_dialog.isVisible()


def test_language_switches_from_the_menu_and_is_remembered(
    qtbot: Any, qapp: Any, tray_factory: Any
) -> None:
    from app.tray import i18n

    tray = tray_factory()
    tray.open_chat()
    tray.chat.log.append("<p>earlier message</p>")
    try:
        tray.actions["language:ja"].trigger()
        assert tray.actions["chat"].text() == "チャットを開く"
        assert tray.actions["language:ja"].isChecked()
        assert tray.chat.windowTitle() == "ORA チャット" and tray.chat.isVisible()
        assert "earlier message" in tray.chat.transcript, "the conversation stays"
        assert i18n.saved_language(tray.settings.state_dir) == "ja"
        tray.actions["language:en"].trigger()
        assert tray.actions["chat"].text() == "Open chat"
        assert i18n.saved_language(tray.settings.state_dir) == "en"
    finally:
        i18n.switch(qapp, "en")
