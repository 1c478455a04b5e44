"""The built Linux app: its size and cold start, beside a minimal PySide6 tray app (the floor).

Both are built in this run with PyInstaller the same way (one-dir, stripped, the same files
left out: installer/bundle_filter.py) and archived as .tar.gz, the download a user gets.
"Cold" means the app's own files are evicted from the page cache before every start
(posix_fadvise DONTNEED on each file); system libraries stay cached. Median of 5 starts.
Targets (issue 13): download <= 150 MB, `--version` <= 1.5 s. Last line: one JSON object.

    python bench/dist.py [--app DIR]    # --app: measure an existing build instead of building
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from installer.build import REPO, build, folder_size

RUNS = 5
FLOOR_APP = textwrap.dedent(
    """
    import sys
    from PySide6.QtGui import QIcon, QPixmap
    from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

    if "--version" in sys.argv:
        print("floor 1.0")
        raise SystemExit(0)
    app = QApplication(sys.argv)
    pixmap = QPixmap(64, 64)
    pixmap.fill()
    tray = QSystemTrayIcon(QIcon(pixmap))
    menu = QMenu()
    menu.addAction("Quit", app.quit)
    tray.setContextMenu(menu)
    tray.show()
    if "--self-test" in sys.argv:
        print('{"ok": true}')
        raise SystemExit(0)
    raise SystemExit(app.exec())
    """
)
FLOOR_SPEC = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {repo!r})
    from installer.bundle_filter import EXCLUDES, keep
    a = Analysis([{script!r}], excludes=EXCLUDES)
    a.binaries = [b for b in a.binaries if keep(b)]
    a.datas = [d for d in a.datas if keep(d)]
    pyz = PYZ(a.pure)
    exe = EXE(pyz, a.scripts, [], exclude_binaries=True, name="floor", strip=True, upx=False)
    COLLECT(exe, a.binaries, a.datas, strip=True, upx=False, name="floor")
    """
)


def build_floor(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    script = work / "floor.py"
    script.write_text(FLOOR_APP)
    spec = work / "floor.spec"
    spec.write_text(FLOOR_SPEC.format(repo=str(REPO), script=str(script)))
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "ERROR",
         "--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(spec)],
        check=True, cwd=work,
    )  # fmt: skip
    return work / "dist" / "floor"


def archive_mb(app_dir: Path, out: Path) -> float:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(app_dir, arcname=app_dir.name)
    return out.stat().st_size / 1e6


def evict(app_dir: Path) -> None:
    """Drop the app's own files from the page cache, so the next start reads them from disk."""
    for path in app_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cold_start_s(app_dir: Path, exe: str, args: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        evict(app_dir)
        started = time.perf_counter()
        result = subprocess.run(
            [str(app_dir / exe), *args], env=env, capture_output=True, text=True, timeout=120
        )
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"{exe} {args} failed: {result.stderr[-500:]}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--app", type=Path, help="an existing dist/ora to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ora-bench-dist-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        app = args.app or build(work / "dist", work / "build", quiet=True)
        app_build_s = time.monotonic() - started
        started = time.monotonic()
        floor = build_floor(work / "floor")
        floor_build_s = time.monotonic() - started
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work / "home"),
            "ORA_HOME": str(work / "ora-home"),
            "ORA_NO_LOCAL_DETECT": "1",
            "QT_QPA_PLATFORM": "offscreen",
        }
        result = {
            "dist_mb": round(archive_mb(app, work / "ora.tar.gz"), 1),
            "dist_dir_mb": round(folder_size(app) / 1e6, 1),
            "version_start_s": round(cold_start_s(app, "ora", ["--version"], env), 3),
            "self_test_start_s": round(cold_start_s(app, "ora", ["self-test"], env), 3),
            "floor_mb": round(archive_mb(floor, work / "floor.tar.gz"), 1),
            "floor_dir_mb": round(folder_size(floor) / 1e6, 1),
            "floor_start_s": round(cold_start_s(floor, "floor", ["--version"], env), 3),
            "floor_tray_start_s": round(cold_start_s(floor, "floor", ["--self-test"], env), 3),
            "app_build_s": round(app_build_s, 1),
            "floor_build_s": round(floor_build_s, 1),
        }
    print(f"ORA download {result['dist_mb']} MB ({result['dist_dir_mb']} MB unpacked), "
          f"floor {result['floor_mb']} MB ({result['floor_dir_mb']} MB unpacked)")  # fmt: skip
    print(f"cold start, median of {RUNS}: ora --version {result['version_start_s']} s, "
          f"ora self-test {result['self_test_start_s']} s; floor --version "
          f"{result['floor_start_s']} s, floor tray shown {result['floor_tray_start_s']} s")  # fmt: skip
    ok = result["dist_mb"] <= 150 and result["version_start_s"] <= 1.5
    print(f"targets (download <= 150 MB, --version <= 1.5 s): {'met' if ok else 'NOT met'}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
