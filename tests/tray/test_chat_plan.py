"""The tray chat shows a plan as it runs (step n of m), stops a turn on Stop, and the
Providers dialog shows what each provider has cost on this PC."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt

from app.settings import ProviderConfig
from tests.support.fake_openai import FakeOpenAI, Reply


def provider(fake: FakeOpenAI) -> tuple[ProviderConfig, ...]:
    return (ProviderConfig(name="fake", base_url=fake.base_url, model="m", local=True),)


def ask(qtbot: Any, tray: Any, text: str) -> None:
    tray.open_chat()
    qtbot.keyClicks(tray.chat.input, text)
    qtbot.keyClick(tray.chat.input, Qt.Key.Key_Return)


def test_a_plan_is_shown_step_by_step_as_it_runs(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    plan = {"steps": [{"do": "note it", "tool": "remember"}, {"do": "check it", "tool": "recall"}]}
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "note and check"})]),
        Reply(text=json.dumps(plan)),  # the planner (same server serves every role here)
        Reply(tool_calls=[("remember", {"text": "keys are in the drawer"})]),
        Reply(tool_calls=[("recall", {"query": "keys"})]),
        Reply(text="Noted and checked."),
    ]
    tray = tray_factory(providers=provider(fake_openai))
    ask(qtbot, tray, "note where my keys are and check it")
    qtbot.waitUntil(lambda: "Noted and checked." in tray.chat.transcript, timeout=40000)
    # The turn's end arrives just after its last words: Stop goes grey then.
    qtbot.waitUntil(lambda: not tray.chat.stop.isEnabled(), timeout=5000)
    shown = tray.chat.plan_view.text()
    assert tray.chat.plan_view.isVisible() or not tray.chat.isVisible()
    assert "Step 2 of 2" in shown and "1. note it (Remember something)" in shown
    assert shown.count("done") == 2


def test_stop_cancels_the_answer_being_written(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text=" ".join(["blah"] * 300), chunk_delay_s=0.05))
    tray = tray_factory(providers=provider(fake_openai))
    ask(qtbot, tray, "talk a lot")
    qtbot.waitUntil(lambda: "blah" in tray.chat.transcript, timeout=40000)
    assert tray.chat.stop.isEnabled()
    qtbot.mouseClick(tray.chat.stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Stopped." in tray.chat.transcript, timeout=10000)
    assert tray.chat.transcript.count("blah") < 200
    dialog = tray.open_providers()
    qtbot.addWidget(dialog)
    assert "fake: 1 calls" in dialog.usage.text()


def test_the_chat_says_thinking_from_the_send_until_the_first_word(
    qtbot: Any, tray_factory: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text="Took a while.", hang_s=2.0))
    tray = tray_factory(providers=provider(fake_openai))
    ask(qtbot, tray, "a slow question")
    assert tray.chat.thinking.isVisible(), "shown the moment the message is sent"
    assert tray.chat.thinking.text() == "Thinking…"
    qtbot.waitUntil(lambda: "Took a while." in tray.chat.transcript, timeout=40000)
    assert not tray.chat.thinking.isVisible()
    assert "Thinking" not in tray.chat.transcript
