"""A real X server (Xvfb) with a real system tray (trayer), for the tray's tests and bench."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def x_display_with_tray() -> Iterator[str]:
    """Yield a DISPLAY name whose screen has a system tray at the top right."""
    for tool in ("Xvfb", "trayer"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} is missing: `make test` installs it (scripts/setup.sh)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        name = ":" + pipe.readline().strip()
    trayer = subprocess.Popen(
        [
            *("trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel"),
            *("--width", "200", "--height", "32", "--SetDockType", "true"),
            *("--tint", "0x202020", "--transparent", "true", "--alpha", "0"),
        ],
        env={**os.environ, "DISPLAY": name},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)  # trayer claims the tray selection; a client that starts first sees none
    try:
        yield name
    finally:
        for proc in (trayer, xvfb):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
