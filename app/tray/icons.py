"""The tray icon, drawn so its state shows at a glance: connected, offline, needs attention."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

COLORS = {
    "connected": "#15803d",
    "offline": "#6b7280",
    "connecting": "#6b7280",
    "attention": "#d97706",
}


def state_icon(state: str, size: int = 64) -> QIcon:
    """A round "O" badge in the state's colour."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(COLORS.get(state, COLORS["offline"])))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(QRectF(2, 2, size - 4, size - 4))
    painter.setPen(QColor("white"))
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(size * 0.55))
    painter.setFont(font)
    painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, "O")
    painter.end()
    return QIcon(pixmap)
