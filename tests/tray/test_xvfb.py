"""The tray on a real X server with a real system tray: a right-click opens the menu, and the
screenshots in docs/screenshots come from here, in English and Japanese."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.display import x_display_with_tray

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    assert shutil.which("xdotool") and shutil.which("zbarimg"), "`make test` installs them"
    with x_display_with_tray() as name:
        yield name


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_tray_under_a_real_x_server(display: str, lang: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env |= {"DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "ORA_NO_LOCAL_DETECT": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "tests.tray.shoot", lang, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["tray_available"] and seen["icon_placed"]
    assert seen["menu_opened_by_click"], "a right-click on the tray icon must open the menu"
    assert seen["approval_popup"]
    open_chat = "Open chat" if lang == "en" else "チャットを開く"
    assert open_chat in seen["menu_texts"]
    # What the screen showed: the QR code in the dialog's picture decodes to the pairing link.
    qr = subprocess.run(
        ["zbarimg", "--raw", "-q", "--nodbus", str(tmp_path / f"tray-pair-{lang}.png")],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert qr.stdout.strip().startswith("http://127.0.0.1:8470/app/#v=1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for kind in ("menu", "pair", "approval", "chat"):
        shutil.copy(tmp_path / f"tray-{kind}-{lang}.png", SHOTS / f"tray-{kind}-{lang}.png")


def test_ora_with_a_display_starts_the_tray(display: str, tmp_path: Path) -> None:
    """`ora` (what `make run` starts) shows its icon at once and opens the core behind it."""
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env |= {
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "ORA_NO_LOCAL_DETECT": "1",
        "ORA_HOME": str(tmp_path),
        "ORA_RELAY_URL": "http://127.0.0.1:9",
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "-v"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line.strip())
            if "tray ready" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    assert "ora: tray icon shown" in seen and "ora: tray ready" in seen, seen
    assert seen.index("ora: tray icon shown") < seen.index("ora: tray ready")
    assert (tmp_path / "profiles" / "private" / "local-token").exists()
