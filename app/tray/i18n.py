"""Japanese and English for the tray: Qt translation files, following the OS locale."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLocale, QTranslator
from PySide6.QtWidgets import QApplication

TRANSLATIONS = Path(__file__).resolve().parents[2] / "assets" / "i18n"


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


_installed: list[QTranslator] = []
