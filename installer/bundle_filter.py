"""What the PyInstaller builds leave out, shared by the app's spec and the benchmark's floor."""

from __future__ import annotations

# Python modules the Node never uses: other Qt bindings and Qt modules, test and build tools,
# the Relay's and the Cloud's server-only libraries, AWS SDKs litellm can use for Bedrock,
# the Hugging Face hub's Xet downloader (the Node downloads no models).
EXCLUDES = [
    "tkinter", "PyQt5", "PyQt6", "PySide2", "IPython", "matplotlib", "numpy.tests",
    "pytest", "mypy", "ruff", "hypothesis", "pip",  # not setuptools: tufup.repo imports it
    "relay_server", "cloud_worker", "asyncpg", "redis",
    "botocore", "boto3", "s3transfer", "PIL._avif", "hf_xet",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtPdf",
    "PySide6.QtOpenGL", "PySide6.QtDBus", "PySide6.QtSql", "PySide6.QtTest",
    "PySide6.QtConcurrent", "PySide6.QtXml", "PySide6.QtPrintSupport",
]  # fmt: skip

# Binaries and data the build host drags in: the GTK platform theme and its
# libraries, Playwright's bundled Node.js (a runtime hook uses the system's), Pillow's AVIF
# codec, and Qt plugins for features a tray app does not use (EGL full-screen, VNC, TLS...).
DROP = (
    "platformthemes/libqgtk3", "libgtk-3", "libgdk-3", "libcairo", "libpango", "libatk",
    "libharfbuzz", "libgdk_pixbuf", "libepoxy",
    "playwright/driver/node", "libavif",
    "Qt/lib/libQt6EglFS", "Qt/lib/libQt6EglFsKms", "Qt/plugins/platforms/libqvkkhrdisplay",
    "Qt/plugins/imageformats/libqpdf", "Qt/plugins/imageformats/libqwebp",
    "Qt/plugins/imageformats/libqtiff", "Qt/plugins/imageformats/libqicns",
    "Qt/plugins/generic/", "Qt/plugins/networkinformation/", "Qt/plugins/tls/",
    "Qt/plugins/egldeviceintegrations/", "Qt/plugins/platforminputcontexts/",
    "Qt/plugins/platforms/libqeglfs", "Qt/plugins/platforms/libqlinuxfb",
    "Qt/plugins/platforms/libqvnc", "Qt/plugins/platforms/libqminimalegl",
    "Qt/plugins/xcbglintegrations/",
)  # fmt: skip


def keep(entry: tuple[str, ...]) -> bool:
    """False for a (dest, src, kind) TOC entry the app does not need."""
    dest = entry[0].replace("\\", "/")
    if "/translations/" in dest and dest.endswith(".qm"):
        return "_ja" in dest or "_en" in dest
    return not any(part in dest for part in DROP)
