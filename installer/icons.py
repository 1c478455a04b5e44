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


def write_web(out: Path) -> dict[str, Path]:
    """The web client's icons: 192/512 for the manifest, a maskable 512 (the badge inside the
    safe zone Android crops to), and the 180 px apple-touch-icon iOS uses for "Add to Home
    Screen"."""
    out.mkdir(parents=True, exist_ok=True)
    img = draw()
    paths = {
        "192": out / "ora-192.png",
        "512": out / "ora-512.png",
        "maskable": out / "ora-maskable-512.png",
        "apple": out / "apple-touch-icon.png",
    }
    img.resize((192, 192), Image.Resampling.LANCZOS).save(paths["192"])
    img.save(paths["512"])
    # Maskable icons are cropped to a circle of 80 % of the size: a full-bleed background with
    # the badge at 70 % keeps the whole "O" visible on every launcher.
    masked = Image.new("RGBA", (512, 512), GREEN)
    inner = img.resize((358, 358), Image.Resampling.LANCZOS)
    masked.alpha_composite(inner, (77, 77))
    masked.save(paths["maskable"])
    # iOS draws no transparency (black corners): an opaque white square behind the badge.
    apple = Image.new("RGBA", (180, 180), "white")
    apple.alpha_composite(img.resize((180, 180), Image.Resampling.LANCZOS))
    apple.convert("RGB").save(paths["apple"])
    return paths


if __name__ == "__main__":
    print(write_all(ASSETS))
    print(write_web(ASSETS.parent / "web" / "icons"))
