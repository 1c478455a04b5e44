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
