"""The app icon: drawn once with Pillow (the tray's round "O" badge), saved for each OS."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

GREEN = "#15803d"
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "icons"


def draw(size: int = 512) -> Image.Image:
    """A green disc with a white "O", like the tray icon when connected."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad = size // 32
    d.ellipse((pad, pad, size - pad, size - pad), fill=GREEN)
    ring = size // 4
    width = size // 11
    d.ellipse((ring, ring, size - ring, size - ring), outline="white", width=width)
    return img


def write_all(out: Path) -> dict[str, Path]:
    """ora.png (Linux), ora.ico (Windows) and ora.icns (macOS) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    img = draw()
    paths = {"png": out / "ora.png", "ico": out / "ora.ico", "icns": out / "ora.icns"}
    img.save(paths["png"])
    img.save(paths["ico"], sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    img.save(paths["icns"])
    return paths


if __name__ == "__main__":
    print(write_all(ASSETS))
