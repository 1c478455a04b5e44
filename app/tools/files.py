"""File tools confined to the configured roots: list, read, search (LOW); write, move, delete (HIGH).

Every path is resolved (symlinks followed) before use and must stay inside a root, so `..`,
absolute paths elsewhere and symlinks pointing out are refused before anything is touched.
Roots come from `[tools.files] roots = [...]`; by default the profile's own `files/` folder.
A guest is confined to its own subfolder of each root.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.policy.gate import Risk, Role
from app.tools.spec import Handler, ToolContext, ToolFailure, ToolSpec

MAX_READ_BYTES = 256 * 1024
MAX_LIST_ENTRIES = 500
MAX_SEARCH_HITS = 50


def _in_thread(fn: Callable[[ToolContext, dict[str, Any]], dict[str, Any]]) -> Handler:
    """Run a blocking file operation off the event loop (a large search must not stall it)."""

    async def handler(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(fn, ctx, args)

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


def resolve_inside(ctx: ToolContext, raw: str) -> Path:
    """The real path for `raw` (relative to the first root), refused unless inside a root."""
    allowed = roots(ctx)
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = allowed[0] / candidate
    real = candidate.resolve()
    for root in allowed:
        if real == root or real.is_relative_to(root):
            return real
    raise ToolFailure(
        f"'{raw}' is outside the folders ORA may use ({', '.join(str(r) for r in allowed)})"
    )


@_in_thread
def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args.get("path") or ".")
    if not path.exists():
        raise ToolFailure(f"'{args.get('path') or '.'}' does not exist")
    if not path.is_dir():
        raise ToolFailure(f"'{args.get('path')}' is a file, not a folder")
    entries = []
    for child in sorted(path.iterdir(), key=lambda p: p.name.lower())[:MAX_LIST_ENTRIES]:
        kind = "dir" if child.is_dir() else "file"
        size = child.stat().st_size if kind == "file" else None
        entries.append({"name": child.name, "type": kind, "size": size})
    return {"path": str(path), "entries": entries}


@_in_thread
def _read(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    path = resolve_inside(ctx, args["path"])
    if not path.is_file():
        raise ToolFailure(f"'{args['path']}' is not a file")
    with path.open("rb") as handle:
        data = handle.read(MAX_READ_BYTES + 1)
    truncated = len(data) > MAX_READ_BYTES
    return {
        "path": str(path),
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
            hits.append({"path": str(path), "match": "name"})
            continue
        if path.stat().st_size <= MAX_READ_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            index = text.lower().find(needle)
            if index >= 0:
                hits.append({"path": str(path), "match": text[max(0, index - 40) : index + 80]})
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
    return {"written": str(path), "bytes": len(args["text"].encode("utf-8"))}


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
    return {"moved": str(src), "to": str(dst)}


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
    return {"deleted": str(path)}


def tools() -> list[ToolSpec]:
    """files_list, files_read, files_search, files_write, files_move, files_delete."""
    path_schema = {"type": "string", "maxLength": 4096}
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
        ),
    ]
