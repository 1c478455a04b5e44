"""`make run` as a person uses it: a second run, then Ctrl+C in the terminal (a real SIGINT to
the whole foreground process group), headless and with the tray on a real X server."""

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.test_one_node_per_profile import node_env, private_profile
from tests.relay.conftest import free_port
from tests.support.display import x_display_with_tray

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def group_alive(pgid: int) -> list[str]:
    """The processes still in the process group (what Ctrl+C should have stopped)."""
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "-g", str(pgid)], capture_output=True, text=True
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with x_display_with_tray() as name:
        yield name


def run_make_run(home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def wait_for(proc: subprocess.Popen[str], text: str, seen: list[str], timeout: float = 90) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"never saw {text!r}: {''.join(seen)}")


@pytest.mark.parametrize("front", ["headless", "tray"])
def test_second_make_run_then_ctrl_c_stops_everything(
    tmp_path: Path, front: str, request: pytest.FixtureRequest
) -> None:
    private_profile(tmp_path)
    port = free_port()
    env = node_env(tmp_path, ORA_RELAY_PORT=str(port), ORA_HOME_NETWORK="0")
    env.pop("ORA_RELAY_URL")
    if front == "headless":
        env["ORA_HEADLESS"] = "1"
        ready = "Press Ctrl+C to stop."
    else:
        assert shutil.which("Xvfb")
        env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
        env |= {
            "DISPLAY": request.getfixturevalue("display"),
            "QT_QPA_PLATFORM": "xcb",
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        }
        ready = "starting the ORA tray app"
    seen: list[str] = []
    run = run_make_run(tmp_path, env)
    try:
        wait_for(run, ready, seen)
        lock = tmp_path / "profiles" / "private" / "node.lock"
        deadline = time.monotonic() + 60
        while '"port": null' in lock.read_text() or not lock.read_text():
            assert time.monotonic() < deadline, "the Node never opened its local server"
            time.sleep(0.2)
        second = subprocess.run(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0
        assert "ORA is already running" in second.stderr
        assert "starting the Relay" not in second.stdout
        assert run.poll() is None, "the first `make run` keeps running"

        started = time.monotonic()
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl+C in the terminal does
        out, _ = run.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    text = "".join(seen) + out
    assert run.returncode == 0, text
    assert elapsed < 10, elapsed
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert group_alive(run.pid) == [], "Ctrl+C must stop every process `make run` started"
    with pytest.raises(OSError):
        import socket

        socket.create_connection(("127.0.0.1", port), timeout=1).close()
