"""Cold start of the tray app to its icon in a real system tray, and its memory when idle.

Runs Xvfb and trayer, then starts `ora` from source (a fresh profile, a local Relay) and times
process start -> "tray icon shown" (median of 5; `start_s`) and -> "tray ready", the core open
and the menu attached (`ready_s`), and reads its RSS after it has sat idle
for 60 s (BENCH_IDLE_S). Beside it, in the same run, a minimal PySide6 tray app started the
same way: the floor any Qt tray app pays here.
The first answer: each profile has an OpenAI-compatible provider on loopback (a fake that
answers at once), and the moment the icon shows a chat goes to the tray's core through its
local server; `first_token_s` is icon shown -> first token of that answer (median over the
runs), and `warm_token_s` its floor: the same chat sent again once the tray is ready. The idle
process chats once after its idle reading: `chat_rss_mb` is its RSS then. Processes run from
bytecode compiled by an untimed first start, as an installed app does (BENCH_BYTECODE=0: not).
Targets: start <= 1.5 s, first token <= 1.0 s, idle RSS <= 150 MB, after a chat <= 200 MB.
Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.display import x_display_with_tray  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "60"))
# An installed ORA runs from compiled bytecode (PyInstaller ships it; pip writes it on first
# run); a dev shell with PYTHONDONTWRITEBYTECODE=1 compiles every module on every start, which
# costs more CPU than anything ORA itself does. BENCH_BYTECODE=0 measures that case.
BYTECODE = os.environ.get("BENCH_BYTECODE", "1") != "0"
MINIMAL = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
app = QApplication(sys.argv)
pixmap = QPixmap(32, 32); pixmap.fill()
tray = QSystemTrayIcon(QIcon(pixmap)); menu = QMenu(); menu.addAction("Quit", app.quit)
tray.setContextMenu(menu); tray.show()
QTimer.singleShot(0, lambda: print("ora: tray icon shown\\nora: tray ready", file=sys.stderr, flush=True))
app.exec()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_STARTED: dict[int, float] = {}


def launch(
    cmd: list[str], env: dict[str, str], until_ready: bool = True
) -> tuple[float, float, subprocess.Popen[str]]:
    """Start a process; seconds until its tray icon shows, and until its menu works.

    With until_ready False it returns as soon as the icon shows (ready 0.0, unless both lines
    came together): the caller chats at once, then calls `wait_ready`.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    _STARTED[proc.pid] = t0
    assert proc.stderr is not None
    shown = 0.0
    for line in proc.stderr:
        if "tray icon shown" in line:
            shown = time.perf_counter() - t0
            if not until_ready:
                return shown, 0.0, proc
        elif "tray ready" in line and shown:
            return shown, time.perf_counter() - t0, proc
    raise RuntimeError(f"{cmd[0]} exited ({proc.wait()}) without showing its tray icon")


def wait_ready(proc: subprocess.Popen[str], shown: float) -> float:
    """Seconds from start until the menu of a process `launch` returned early worked."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if "tray ready" in line:
            return max(shown, time.perf_counter() - _STARTED[proc.pid])
    raise RuntimeError("exited before its menu was ready")


def start_provider() -> FakeOpenAI:
    """An OpenAI-compatible server on loopback, on a loop thread of its own."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return asyncio.run_coroutine_threadsafe(FakeOpenAI().start(), loop).result(10)


def make_home(home: Path, provider: FakeOpenAI) -> int:
    """A fresh profile whose provider is the loopback server; returns its local server port."""
    port = free_port()
    state = home / "profiles" / "private"
    state.mkdir(parents=True)
    (state / "config.toml").write_text(
        f'[local_server]\nport = {port}\n\n[[providers]]\nname = "loopback"\n'
        f'base_url = "{provider.base_url}"\nmodel = "m"\nlocal = true\n'
    )
    return port


def first_token(home: Path, port: int, deadline_s: float = 60) -> float:
    """Send a chat to the tray's core now; seconds until the first token of its answer."""
    t0 = time.perf_counter()
    token_file = home / "profiles" / "private" / "local-token"
    while time.perf_counter() - t0 < deadline_s:
        try:
            token = token_file.read_text().strip()
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/chat",
                data=json.dumps({"text": "hello there"}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=deadline_s) as resp:
                for line in resp:
                    if json.loads(line).get("type") == "delta":
                        elapsed = time.perf_counter() - t0
                        resp.read()  # let the answer finish
                        return elapsed
            raise RuntimeError("the answer had no text")
        except (OSError, urllib.error.URLError):
            time.sleep(0.02)  # the core or its local server is not up yet
    raise RuntimeError("no answer from the tray's core")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    with x_display_with_tray() as display:
        print(json.dumps(measure(display)))


def measure(display: str) -> dict[str, object]:
    relay_port = free_port()
    work = Path(tempfile.mkdtemp(prefix="ora-bench-tray-"))
    base = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    base |= {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "ORA_NO_LOCAL_DETECT": "1"}
    if BYTECODE:
        # Compiled once into a folder of the benchmark's own, as an installed app has it.
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        base["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    relay = subprocess.Popen(
        [sys.executable, "-m", "relay_server", "--port", str(relay_port)],
        cwd=ROOT,
        env={**base, "ORA_RELAY_DATA_DIR": str(work / "relay")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)
        ora_env = base | {"ORA_RELAY_URL": f"http://127.0.0.1:{relay_port}"}
        ora = [sys.executable, "-m", "app", "-v"]
        floor = [sys.executable, "-c", MINIMAL]
        provider = start_provider()
        if BYTECODE:  # one untimed start of each, chat included, writes the bytecode
            home = work / "home-warm-up"
            port = make_home(home, provider)
            stop(launch(floor, base)[2])
            proc = launch(ora, ora_env | {"ORA_HOME": str(home)})[2]
            first_token(home, port)
            stop(proc)
        ora_times, ready_times, floor_times, token_times, warm_times = [], [], [], [], []
        for i in range(RUNS):
            # Alternate so that disk cache and CPU load affect both alike.
            home = work / f"home-{i}"
            port = make_home(home, provider)
            t, _, proc = launch(floor, base)
            floor_times.append(t)
            stop(proc)
            t, ready, proc = launch(ora, ora_env | {"ORA_HOME": str(home)}, until_ready=False)
            token_times.append(first_token(home, port))
            ready = wait_ready(proc, t) if ready == 0 else ready
            # The floor for the first token: the same chat once everything has loaded.
            first_token(home, port)
            warm_times.append(first_token(home, port))
            ora_times.append(t)
            ready_times.append(ready)
            stop(proc)
            print(
                f"run {i + 1}: ora icon {t:.2f} s, first token {token_times[-1]:.2f} s after it "
                f"(warm {warm_times[-1]:.3f} s), menu ready {ready:.2f} s; floor {floor_times[-1]:.2f} s"
            )
        idle_home = work / "home-idle"
        idle_port = make_home(idle_home, provider)
        _, _, proc = launch(ora, ora_env | {"ORA_HOME": str(idle_home)})
        _, _, floor_proc = launch(floor, base)
        time.sleep(IDLE_S)
        idle, floor_idle = rss_mb(proc.pid), rss_mb(floor_proc.pid)
        first_token(idle_home, idle_port)
        time.sleep(2)
        chat_rss = rss_mb(proc.pid)
        stop(proc)
        stop(floor_proc)
    finally:
        stop(relay)  # type: ignore[arg-type]
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "start_s": round(statistics.median(ora_times), 3),
        "ready_s": round(statistics.median(ready_times), 3),
        "first_token_s": round(statistics.median(token_times), 3),
        "warm_token_s": round(statistics.median(warm_times), 3),
        "idle_rss_mb": round(idle, 1),
        "chat_rss_mb": round(chat_rss, 1),
        "floor_start_s": round(statistics.median(floor_times), 3),
        "floor_idle_rss_mb": round(floor_idle, 1),
        "idle_after_s": IDLE_S,
        "bytecode": BYTECODE,
        "targets": {"start_s": 1.5, "first_token_s": 1.0, "idle_rss_mb": 150, "chat_rss_mb": 200},
    }
    print(
        f"tray icon {result['start_s']} s, menu ready {result['ready_s']} s "
        f"(floor {result['floor_start_s']} s); "
        f"first token {result['first_token_s']} s after the icon "
        f"(floor: {result['warm_token_s']} s on a ready tray); "
        f"idle RSS {result['idle_rss_mb']} MB after {IDLE_S:.0f} s (floor {result['floor_idle_rss_mb']} MB), "
        f"{result['chat_rss_mb']} MB after a chat"
        + ("" if BYTECODE else " (no bytecode: every module compiled at each start)")
    )
    return result


if __name__ == "__main__":
    main()
