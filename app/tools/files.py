"""File tools confined to the configured roots: list, read, search (LOW); write, move, delete (HIGH).

Every path is resolved (symlinks followed) before use and must stay inside a root, so `..`,
absolute paths elsewhere and symlinks pointing out are refused before anything is touched (and
before the owner is asked to approve anything: each tool's precheck runs these checks first).
Roots come from `[tools.files] roots = [...]`; by default the profile's own `files/` folder.
A guest is confined to its own subfolder of each root. Listing uses lstat: a symlink is shown
as a link, never with its target's type or size. Refusals name paths as the caller gave them,
never the owner's absolute folders; NUL bytes and over-long paths are refused plainly.

What guests wrote (their subfolders) and folders listed in `[tools.files] untrusted = [...]`
(downloads, say) are untrusted content for the taint rule (app/policy/taint.py).
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.policy.gate import Risk, Role
from app.policy.taint import ToolFlow
from app.tools.spec import Handler, ToolContext, ToolFailure, ToolSpec

MAX_READ_BYTES = 256 * 1024
MAX_LIST_ENTRIES = 500
MAX_SEARCH_HITS = 50
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255


def _in_thread(fn: Callable[[ToolContext, dict[str, Any]], dict[str, Any]]) -> Handler:
    """Run a blocking file operation off the event loop (a large search must not stall it)."""

    def guarded(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return fn(ctx, args)
        except OSError as err:
            raise _os_refusal(args, err) from None

    async def handler(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(guarded, ctx, args)

    return handler


def roots(ctx: ToolContext) -> list[Path]:
    """The real paths this caller may touch (`[tools.files] roots`, shared by every tool)."""
    configured = ctx.extras.get("file_roots") or ctx.config.get("roots")
    if configured:
        base = [Path(str(r)).expanduser() for r in configured]
    else:
        base = [ctx.state_dir / "files"]
    if ctx.role is Role.GUEST:
        base = [b / "guests" / _safe_name(ctx.user_id) for b in base]
    out = []
    for b in base:
        b.mkdir(parents=True, exist_ok=True)
        out.append(b.resolve())
    return out


def _safe_name(user_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in user_id)[:64] or "_"


def _os_refusal(args: dict[str, Any], err: OSError) -> ToolFailure:
    # The OS's message names the absolute path; the caller gets their own words.
    given = args.get("path") or args.get("source") or "."
    return ToolFailure(f"could not use '{given}': {err.strerror or type(err).__name__}")


async def _run_check(args: dict[str, Any], check: Callable[[], None]) -> None:
    def guarded() -> None:
        try:
            check()
        except OSError as err:
            raise _os_refusal(args, err) from None

    await asyncio.to_thread(guarded)


def check_path_text(raw: str) -> None:
    """Refuse what no file system accepts, plainly, before it reaches one."""
    if "\0" in raw:
        raise ToolFailure("a path cannot contain a NUL character")
    encoded = os.fsencode(raw) if raw else b""
    if len(encoded) > MAX_PATH_BYTES:
        raise ToolFailure(f"that path is too long (more than {MAX_PATH_BYTES} bytes)")
    if any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise ToolFailure(f"a name in that path is too long (more than {MAX_NAME_BYTES} bytes)")


def resolve_inside(ctx: ToolContext, raw: str) -> Path:
    """The real path for `raw` (relative to the first root), refused unless inside a root."""
    check_path_text(raw)
    allowed = roots(ctx)
    candidate = Path(raw).expanduser() if raw.startswith("~") else Path(raw)
    if not candidate.is_absolute():
        candidate = allowed[0] / candidate
    real = candidate.resolve()
    for root in allowed:
        if real == root or real.is_relative_to(root):
            return real
    # Name neither the roots nor where the path led: they show the owner's name and layout.
    raise ToolFailure(f"'{raw}' is outside the folders ORA may use")


def shown(ctx: ToolContext, path: Path) -> str:
    """How a path is named to the caller: a guest sees it relative to its own folder."""
    if ctx.role is not Role.GUEST:
        return str(path)
    for root in roots(ctx):
        if path == root or path.is_relative_to(root):
            return str(path.relative_to(root)) or "."
    return path.name


def approval_target(ctx: ToolContext, args: dict[str, Any]) -> str:
    """The full real path(s) a call touches (the owner sees where, not a relative name)."""
    keys = ("source", "destination") if "source" in args else ("path",)
    return " → ".join(str(resolve_inside(ctx, str(args.get(k) or "."))) for k in keys)


def untrusted_places(ctx: ToolContext) -> list[Path]:
    """Folders whose contents someone other than the owner wrote."""
    if ctx.role is Role.GUEST:
        return []  # a guest's own folder is its own words
    places = [r / "guests" for r in roots(ctx)]
    places += [Path(str(p)).expanduser().resolve() for p in ctx.config.get("untrusted", [])]
    return places


def _touches_untrusted(ctx: ToolContext, args: dict[str, Any], result: Any) -> bool:
    """Did this list/read/search bring in names or text from an untrusted folder?"""
    places = untrusted_places(ctx)
    paths = [str(args.get("path") or ".")]
    if isinstance(result, dict):
        paths += [str(h.get("path", "")) for h in result.get("hits", [])]
    for raw in paths:
        try:
            real = resolve_inside(ctx, raw)
        except ToolFailure:
            continue
        for place in places:
            # Inside an untrusted folder, or a folder that contains one (its listing shows it).
            if real.is_relative_to(place) or place.is_relative_to(real):
                return True
    return False


async def _precheck_paths(ctx: ToolContext, args: dict[str, Any]) -> None:
    """Refuse a call whose paths could never work, before any approval is asked."""

    def check() -> None:
        for key in ("path", "source", "destination"):
            if key in args:
                resolve_inside(ctx, str(args[key]))

    await _run_check(args, check)


@_in_thread
def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args.get("path") or ".")
    if not path.exists():
        raise ToolFailure(f"'{args.get('path') or '.'}' does not exist")
    if not path.is_dir():
        raise ToolFailure(f"'{args.get('path')}' is a file, not a folder")
    entries = []
    for child in sorted(path.iterdir(), key=lambda p: p.name.lower())[:MAX_LIST_ENTRIES]:
        # lstat: a link is described as a link, never as what it points to.
        info = child.lstat()
        if stat.S_ISLNK(info.st_mode):
            kind, size = "link", None
        elif stat.S_ISDIR(info.st_mode):
            kind, size = "dir", None
        elif stat.S_ISREG(info.st_mode):
            kind, size = "file", info.st_size
        else:
            kind, size = "other", None
        entries.append({"name": child.name, "type": kind, "size": size})
    return {"path": shown(ctx, path), "entries": entries}


@_in_thread
def _read(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args["path"])
    if not path.is_file():
        raise ToolFailure(f"'{args['path']}' is not a file")
    with path.open("rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    truncated = len(data) > MAX_READ_BYTES
    return {
        "path": shown(ctx, path),
        "text": data[:MAX_READ_BYTES].decode("utf-8", errors="replace"),
        "truncated": truncated,
    }


@_in_thread
def _search(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    base = resolve_inside(ctx, args.get("path") or ".")
    needle = args["query"].lower()
    hits: list[dict[str, Any]] = []
    for path in sorted(base.rglob("*")):
        if len(hits) >= MAX_SEARCH_HITS:
            break
        if path.is_symlink() or not path.is_file():
            continue  # never follow links out of the roots while walking
        if needle in path.name.lower():
            hits.append({"path": shown(ctx, path), "match": "name"})
            continue
        if path.stat().st_size <= MAX_READ_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            index = text.lower().find(needle)
            if index >= 0:
                hits.append(
                    {"path": shown(ctx, path), "match": text[max(0, index - 40) : index + 80]}
                )
    return {"hits": hits, "truncated": len(hits) >= MAX_SEARCH_HITS}


@_in_thread
def _write(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args["path"])
    if path.exists() and not args.get("overwrite", False):
        raise ToolFailure(
            f"'{args['path']}' already exists; ask again with overwrite to replace it"
        )
    if path.is_dir():
        raise ToolFailure(f"'{args['path']}' is a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(args["text"], encoding="utf-8")
    return {"written": shown(ctx, path), "bytes": len(args["text"].encode("utf-8"))}


@_in_thread
def _move(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    src = resolve_inside(ctx, args["source"])
    dst = resolve_inside(ctx, args["destination"])
    if src in roots(ctx):
        raise ToolFailure("an allowed folder itself cannot be moved")
    if not src.exists():
        raise ToolFailure(f"'{args['source']}' does not exist")
    if dst.exists():
        raise ToolFailure(f"'{args['destination']}' already exists")
    dst.parent.mkdir(parents=True, exist_ok=True)
    src.rename(dst)
    return {"moved": shown(ctx, src), "to": shown(ctx, dst)}


@_in_thread
def _delete(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args["path"])
    if path in roots(ctx):
        raise ToolFailure("an allowed folder itself cannot be deleted")
    if path.is_dir():
        if any(path.iterdir()):
            raise ToolFailure(f"'{args['path']}' is a folder that is not empty")
        path.rmdir()
    elif path.exists():
        path.unlink()
    else:
        raise ToolFailure(f"'{args['path']}' does not exist")
    return {"deleted": shown(ctx, path)}


async def _precheck_write(ctx: ToolContext, args: dict[str, Any]) -> None:
    def check() -> None:
        path = resolve_inside(ctx, args["path"])
        if path.is_dir():
            raise ToolFailure(f"'{args['path']}' is a folder")
        if path.exists() and not args.get("overwrite", False):
            raise ToolFailure(
                f"'{args['path']}' already exists; ask again with overwrite to replace it"
            )

    await _run_check(args, check)


async def _precheck_move(ctx: ToolContext, args: dict[str, Any]) -> None:
    def check() -> None:
        src = resolve_inside(ctx, args["source"])
        dst = resolve_inside(ctx, args["destination"])
        if src in roots(ctx):
            raise ToolFailure("an allowed folder itself cannot be moved")
        if not src.exists():
            raise ToolFailure(f"'{args['source']}' does not exist")
        if dst.exists():
            raise ToolFailure(f"'{args['destination']}' already exists")

    await _run_check(args, check)


async def _precheck_delete(ctx: ToolContext, args: dict[str, Any]) -> None:
    def check() -> None:
        path = resolve_inside(ctx, args["path"])
        if path in roots(ctx):
            raise ToolFailure("an allowed folder itself cannot be deleted")
        if not path.exists():
            raise ToolFailure(f"'{args['path']}' does not exist")
        if path.is_dir() and any(path.iterdir()):
            raise ToolFailure(f"'{args['path']}' is a folder that is not empty")

    await _run_check(args, check)


def tools() -> list[ToolSpec]:
    """files_list, files_read, files_search, files_write, files_move, files_delete."""
    path_schema = {"type": "string", "maxLength": 4096}
    reading: dict[str, Any] = {
        "flow": ToolFlow(private=True),
        "precheck": _precheck_paths,
        "untrusted_result": _touches_untrusted,
    }
    return [
        ToolSpec(
            name="files_list",
            description="List a folder inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {"path": path_schema},
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_list,
            group="files",
            **reading,
        ),
        ToolSpec(
            name="files_read",
            description="Read a text file inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {"path": path_schema},
                "required": ["path"],
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_read,
            group="files",
            **reading,
        ),
        ToolSpec(
            name="files_search",
            description="Find files by name or text inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1, "maxLength": 200},
                    "path": path_schema,
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            risk=Risk.LOW,
            handler=_search,
            group="files",
            **reading,
        ),
        ToolSpec(
            name="files_write",
            description="Write a text file inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {
                    "path": path_schema,
                    "text": {"type": "string", "maxLength": 1_000_000},
                    "overwrite": {"type": "boolean"},
                },
                "required": ["path", "text"],
                "additionalProperties": False,
            },
            risk=Risk.HIGH,
            handler=_write,
            group="files",
            target=approval_target,
            precheck=_precheck_write,
        ),
        ToolSpec(
            name="files_move",
            description="Move or rename a file inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {"source": path_schema, "destination": path_schema},
                "required": ["source", "destination"],
                "additionalProperties": False,
            },
            risk=Risk.HIGH,
            handler=_move,
            group="files",
            target=approval_target,
            precheck=_precheck_move,
        ),
        ToolSpec(
            name="files_delete",
            description="Delete a file or an empty folder inside the allowed folders",
            parameters={
                "type": "object",
                "properties": {"path": path_schema},
                "required": ["path"],
                "additionalProperties": False,
            },
            risk=Risk.HIGH,
            handler=_delete,
            group="files",
            target=approval_target,
            precheck=_precheck_delete,
        ),
    ]
