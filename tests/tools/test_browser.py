"""The browser tool in real Chromium against pages served on loopback."""

from pathlib import Path

import pytest

from app.core.assistant import TurnRequest
from app.core.events import ApprovalPending, ToolFinished
from app.policy.gate import Role
from tests.support.fixtures import open_runtime
from tests.tools.conftest import tool_settings

pytestmark = pytest.mark.slow


async def _call(rt, tool, args, role=Role.OWNER, user="owner", approve=False):
    req = TurnRequest(text="", user_id=user, role=role, channel="tray")
    out: dict = {}
    events = []
    async for e in rt.assistant.call_tool(req, tool, args, None, out):
        events.append(e)
        if isinstance(e, ApprovalPending) and approve:
            rt.broker.answer(
                e.request.approval_id,
                approve=True,
                digest=e.request.digest,
                answered_by="owner",
                answerer_role=Role.OWNER,
                channel="tray",
            )
    return out, events


async def test_open_type_submit_and_screenshot(tmp_path: Path, pages: str) -> None:
    root = tmp_path / "files"
    rt = await open_runtime(tmp_path, None, **tool_settings(root))
    out, _ = await _call(rt, "browser_open", {"url": f"{pages}/form"})
    assert out["result"]["title"] == "Search"
    # Typing into a page is HIGH: it waits for approval, and runs once approved.
    out, events = await _call(rt, "browser_type", {"selector": "#q", "text": "ramen"}, approve=True)
    assert any(isinstance(e, ApprovalPending) for e in events) and "result" in out
    out, _ = await _call(rt, "browser_submit", {"selector": "#q"}, approve=True)
    assert "You searched for ramen" in out["result"]["text"]
    out, _ = await _call(rt, "browser_screenshot", {})
    shot = Path(out["result"]["saved"])
    assert shot.is_relative_to(root) and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    await rt.close()


async def test_unapproved_click_does_nothing(tmp_path: Path, pages: str) -> None:
    rt = await open_runtime(tmp_path, None, approval_timeout_s=0.3, **tool_settings(tmp_path / "f"))
    await _call(rt, "browser_open", {"url": f"{pages}/form"})
    await _call(rt, "browser_type", {"selector": "#q", "text": "x"})  # not approved
    out, _ = await _call(rt, "browser_read", {})
    assert out["result"]["url"].endswith("/form")
    page = await rt.browser.page(
        rt.assistant.context_for(
            TurnRequest(text="", user_id="owner", role=Role.OWNER), "browser_read"
        )
    )
    assert await page.input_value("#q") == ""
    await rt.close()


async def test_a_guest_never_gets_the_owners_browser_profile(tmp_path: Path, pages: str) -> None:
    rt = await open_runtime(tmp_path, None, profile="shared", **tool_settings(tmp_path / "f"))
    await _call(rt, "browser_open", {"url": f"{pages}/login"})
    owner, _ = await _call(rt, "browser_open", {"url": f"{pages}/cookies"})
    assert "owner-secret-session" in owner["result"]["text"]
    # A guest's browser_open is MEDIUM: it asks the owner, who approves it here.
    guest, _ = await _call(
        rt,
        "browser_open",
        {"url": f"{pages}/cookies"},
        role=Role.GUEST,
        user="friend",
        approve=True,
    )
    assert (
        "cookies=" in guest["result"]["text"]
        and "owner-secret-session" not in guest["result"]["text"]
    )
    dirs = {p.name for p in (rt.settings.browser_profile_dir).iterdir()}
    assert "owner" in dirs and "guests" in dirs
    await rt.close()


async def test_pages_outside_http_are_refused(tmp_path: Path) -> None:
    rt = await open_runtime(tmp_path, None, **tool_settings(tmp_path / "f"))
    _, events = await _call(rt, "browser_open", {"url": "file:///etc/passwd"})
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert finished[0].outcome == "error" and "only http" in finished[0].summary
    await rt.close()
