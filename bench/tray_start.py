"""Cold start of the tray app to its icon in a real system tray, and its memory when idle.

Runs Xvfb and trayer, then starts `ora` from source (a fresh profile, a local Relay) and times
process start -> "tray icon shown" (median of 5; `start_s`) and -> "tray ready", the core open
and the menu attached (`ready_s`), and reads its RSS after it has sat idle
for 60 s (BENCH_IDLE_S). Beside it, in the same run, a minimal PySide6 tray app started the
same way: the floor any Qt tray app pays here.
Targets: start <= 1.5 s, idle RSS <= 150 MB. Last line: one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.display import x_display_with_tray  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "60"))
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


def launch(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.Popen[str]]:
    """Start a process; seconds until its tray icon shows, and until its menu works."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert proc.stderr is not None
    shown = 0.0
    for line in proc.stderr:
        if "tray icon shown" in line:
            shown = time.perf_counter() - t0
        elif "tray ready" in line and shown:
            return shown, time.perf_counter() - t0, proc
    raise RuntimeError(f"{cmd[0]} exited ({proc.wait()}) without showing its tray icon")


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
        ora_times, ready_times, floor_times = [], [], []
        for i in range(RUNS):
            # Alternate so that disk cache and CPU load affect both alike.
            home = work / f"home-{i}"
            t, _, proc = launch(floor, base)
            floor_times.append(t)
            stop(proc)
            t, ready, proc = launch(ora, ora_env | {"ORA_HOME": str(home)})
            ora_times.append(t)
            ready_times.append(ready)
            stop(proc)
            print(
                f"run {i + 1}: ora icon {t:.2f} s, menu ready {ready:.2f} s; "
                f"floor {floor_times[-1]:.2f} s"
            )
        _, _, proc = launch(ora, ora_env | {"ORA_HOME": str(work / "home-idle")})
        _, _, floor_proc = launch(floor, base)
        time.sleep(IDLE_S)
        idle, floor_idle = rss_mb(proc.pid), rss_mb(floor_proc.pid)
        stop(proc)
        stop(floor_proc)
    finally:
        stop(relay)  # type: ignore[arg-type]
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "start_s": round(statistics.median(ora_times), 3),
        "ready_s": round(statistics.median(ready_times), 3),
        "idle_rss_mb": round(idle, 1),
        "floor_start_s": round(statistics.median(floor_times), 3),
        "floor_idle_rss_mb": round(floor_idle, 1),
        "idle_after_s": IDLE_S,
        "targets": {"start_s": 1.5, "idle_rss_mb": 150},
    }
    print(
        f"tray icon {result['start_s']} s, menu ready {result['ready_s']} s "
        f"(floor {result['floor_start_s']} s); "
        f"idle RSS {result['idle_rss_mb']} MB after {IDLE_S:.0f} s (floor {result['floor_idle_rss_mb']} MB)"
    )
    return result


if __name__ == "__main__":
    main()
