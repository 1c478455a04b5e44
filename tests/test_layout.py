"""The tree stays walkable: no oversized module, and the README's layout table names real files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "relay_server", "cloud_worker", "protocol")
MAX_LINES = 500  # issue 19: past this, split by responsibility


def test_no_module_over_500_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these by responsibility (limit {MAX_LINES} lines): {too_long}"


def _layout_rows() -> list[tuple[list[str], list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) >= 4:
            rows.append((re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def test_readme_layout_names_real_paths() -> None:
    rows = _layout_rows()
    assert rows, "the README has a layout table"
    missing = []
    for folders, mentioned in rows:
        missing += [f for f in folders if not (ROOT / f).exists()]
        bases = [ROOT / f for f in folders if f.endswith("/")] + [ROOT]
        for name in mentioned:
            if name.endswith(".py") and not any((base / name).exists() for base in bases):
                missing.append(name)
    assert not missing, f"the README's layout table names paths that do not exist: {missing}"


def test_every_package_folder_is_in_the_layout() -> None:
    listed = {f.rstrip("/") for folders, _ in _layout_rows() for f in folders}
    unlisted = [
        str(d.relative_to(ROOT))
        for package in PACKAGES
        for d in [ROOT / package, *sorted((ROOT / package).iterdir())]
        if d.is_dir()
        and (d / "__init__.py").exists()
        and str(d.relative_to(ROOT)) not in listed
        and d.name != "app"
    ]
    assert not unlisted, f"packages missing from the README's layout table: {unlisted}"
