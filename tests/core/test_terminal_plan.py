"""The terminal shows a plan's steps as they change, and Ctrl+C stops the turn, not ORA."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from app.terminal import run_turn
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime


class Screen:
    def __init__(self, on_first_text: object = None) -> None:
        self.text = ""
        self.on_first_text = on_first_text

    def write(self, text: str, /) -> int:
        self.text += text
        if self.on_first_text and "la" in self.text:
            hook, self.on_first_text = self.on_first_text, None
            hook()  # type: ignore[operator]
        return len(text)

    def flush(self) -> None:
        pass


async def test_the_terminal_prints_each_step_as_it_changes(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    plan = {"steps": [{"do": "note it", "tool": "remember"}, {"do": "check it", "tool": "recall"}]}
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "g"})]),
        Reply(text=json.dumps(plan)),
        Reply(tool_calls=[("remember", {"text": "milk"})]),
        Reply(tool_calls=[("recall", {"query": "milk"})]),
        Reply(text="All noted."),
    ]
    rt = await open_runtime(tmp_path, fake_openai)
    screen = Screen()
    assert await run_turn(rt, "note milk and check", out=screen) == "All noted."
    lines = [ln.strip() for ln in screen.text.splitlines() if ln.strip().startswith("[plan")]
    assert lines == [
        "[plan 1/2] note it (remember): pending",
        "[plan 2/2] check it (recall): pending",
        "[plan 1/2] note it (remember): running",
        "[plan 1/2] note it (remember): done",
        "[plan 2/2] check it (recall): running",
        "[plan 2/2] check it (recall): done",
    ]
    await rt.close()


async def test_ctrl_c_during_an_answer_stops_the_answer_and_ora_keeps_running(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text=" ".join(["la"] * 300), chunk_delay_s=0.03))
    rt = await open_runtime(tmp_path, fake_openai)
    screen = Screen(on_first_text=lambda: os.kill(os.getpid(), signal.SIGINT))
    final = await run_turn(rt, "sing", out=screen)
    assert "[stopped]" in screen.text and final.count("la") < 200
    # Ctrl+C means "leave" again at the prompt: the handler was only for the turn.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert (await run_turn(rt, "/help", out=Screen())).startswith("Commands:")
    await rt.close()


async def test_the_terminal_says_thinking_until_the_first_word(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text="Slow but here.", hang_s=0.5))
    rt = await open_runtime(tmp_path, fake_openai)
    writes: list[str] = []

    class Recorder(Screen):
        def write(self, text: str, /) -> int:
            writes.append(text)
            return super().write(text)

    screen = Recorder()
    assert await run_turn(rt, "a slow question", out=screen) == "Slow but here."
    assert writes[0] == "thinking…", "shown at once, before the model answers"
    wipe = writes.index("\r" + " " * len("thinking…") + "\r")
    first_word = next(i for i, w in enumerate(writes) if "Slow" in w)
    assert wipe < first_word, "the label is wiped before the reply is printed"
    assert writes.count("thinking…") == 1
    await rt.close()
