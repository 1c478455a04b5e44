"""Signed updates (TUF, via tufup) installed side by side, with a launcher that rolls back.

Qt-free: the tray calls UpdateService and shows what it returns.
"""

from app.update.errors import UpdateError, UpdateRefused
from app.update.service import Available, UpdateService

__all__ = ["Available", "UpdateError", "UpdateRefused", "UpdateService"]
