"""File tools stay inside their roots: traversal, absolute paths and symlinks out are refused."""

import os
from pathlib import Path

import pytest

from app.policy.gate import Profile, Role
from app.tools import files
from app.tools.spec import ToolContext, ToolFailure


def _ctx(tmp_path: Path, role: Role = Role.OWNER, user: str = "owner") -> ToolContext:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return ToolContext(
        profile=Profile.SHARED,
        user_id=user,
        role=role,
        guild_id="g",
        channel="t",
        state_dir=tmp_path / "state",
        config={"roots": [str(root)]},
    )


async def _read(ctx: ToolContext, path: str) -> dict:
    return await files.tools()[1].handler(ctx, {"path": path})


async def test_reads_inside_the_root(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "root" / "a.txt").write_text("hello")
    assert (await _read(ctx, "a.txt"))["text"] == "hello"


@pytest.mark.parametrize(
    "path", ["../outside.txt", "sub/../../outside.txt", "{tmp}/outside.txt", "/etc/passwd"]
)
async def test_paths_outside_are_refused(tmp_path: Path, path: str) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "outside.txt").write_text("secret")
    with pytest.raises(ToolFailure, match="outside"):
        await _read(ctx, path.format(tmp=tmp_path))


async def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", tmp_path / "root" / "link.txt")
    os.symlink(tmp_path, tmp_path / "root" / "dirlink")
    for p in ("link.txt", "dirlink/outside.txt"):
        with pytest.raises(ToolFailure, match="outside"):
            await _read(ctx, p)


async def test_guests_see_only_their_own_folder(tmp_path: Path) -> None:
    owner = _ctx(tmp_path)
    (tmp_path / "root" / "owner-plan.txt").write_text("owner only")
    guest = _ctx(tmp_path, Role.GUEST, "friend")
    listing = await files.tools()[0].handler(guest, {})
    assert listing["entries"] == []
    with pytest.raises(ToolFailure):
        await _read(guest, "../../owner-plan.txt")
    assert (await _read(owner, "owner-plan.txt"))["text"] == "owner only"


async def test_large_files_are_truncated(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "root" / "big.txt").write_text("x" * (files.MAX_READ_BYTES + 10))
    result = await _read(ctx, "big.txt")
    assert result["truncated"] and len(result["text"]) == files.MAX_READ_BYTES


async def _call(ctx: ToolContext, name: str, args: dict) -> dict:
    spec = next(t for t in files.tools() if t.name == name)
    return await spec.handler(ctx, args)


async def test_write_move_delete_inside_the_root(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    await _call(ctx, "files_write", {"path": "d/a.txt", "text": "one"})
    with pytest.raises(ToolFailure, match="already exists"):
        await _call(ctx, "files_write", {"path": "d/a.txt", "text": "two"})
    await _call(ctx, "files_move", {"source": "d/a.txt", "destination": "b.txt"})
    assert (tmp_path / "root" / "b.txt").read_text() == "one"
    hits = (await _call(ctx, "files_search", {"query": "one"}))["hits"]
    assert hits and hits[0]["path"].endswith("b.txt")
    await _call(ctx, "files_delete", {"path": "b.txt"})
    assert not (tmp_path / "root" / "b.txt").exists()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("files_write", {"path": "../evil.txt", "text": "x"}),
        ("files_write", {"path": "link/evil.txt", "text": "x"}),
        ("files_move", {"source": "inside.txt", "destination": "../stolen.txt"}),
        ("files_move", {"source": "../outside.txt", "destination": "mine.txt"}),
        ("files_delete", {"path": "../outside.txt"}),
        ("files_delete", {"path": "link"}),
        ("files_delete", {"path": "."}),
    ],
)
async def test_changes_outside_the_root_are_refused_before_anything_happens(
    tmp_path: Path, name: str, args: dict
) -> None:
    ctx = _ctx(tmp_path)
    (tmp_path / "outside.txt").write_text("keep")
    (tmp_path / "root" / "inside.txt").write_text("keep")
    os.symlink(tmp_path, tmp_path / "root" / "link")
    with pytest.raises(ToolFailure):
        await _call(ctx, name, args)
    assert (tmp_path / "outside.txt").read_text() == "keep"
    assert (tmp_path / "root" / "inside.txt").read_text() == "keep"
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "stolen.txt").exists()
