"""Japanese and English for the tray: Qt translation files, following the OS locale unless the
owner picks a language from the tray menu (remembered per profile in `tray.json`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QLocale, QTranslator
from PySide6.QtWidgets import QApplication

TRANSLATIONS = Path(__file__).resolve().parents[2] / "assets" / "i18n"
PREFS_FILE = "tray.json"


def choose_language(setting: str = "") -> str:
    """The profile's `locale` if set ("ja"/"en"), else the OS locale's language."""
    if setting in ("ja", "en"):
        return setting
    return "ja" if QLocale.system().name().startswith("ja") else "en"


def install(app: QApplication, setting: str = "") -> QTranslator | None:
    """Load the translation for the chosen language; English is the source text."""
    language = choose_language(setting)
    if language == "en":
        return None
    # No Qt parent: Python owns the translator, kept alive here for as long as it is installed
    # (a parent as well made two owners, and Qt crashed at exit).
    translator = QTranslator()
    if not translator.load(str(TRANSLATIONS / f"ora_{language}.qm")):
        return None
    app.installTranslator(translator)
    _installed.append(translator)
    return translator


def switch(app: QApplication, setting: str) -> None:
    """Replace the installed translation (windows built afterwards speak the new language)."""
    while _installed:
        app.removeTranslator(_installed.pop())
    install(app, setting)


def saved_language(state_dir: Path) -> str:
    """The language picked in the tray menu: "ja", "en", or "" (follow the system)."""
    try:
        value = json.loads((state_dir / PREFS_FILE).read_text(encoding="utf-8")).get("language")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if value in ("ja", "en") else ""


def save_language(state_dir: Path, language: str) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (PREFS_FILE + ".tmp")
    tmp.write_text(json.dumps({"language": language}), encoding="utf-8")
    os.replace(tmp, state_dir / PREFS_FILE)


_installed: list[QTranslator] = []
