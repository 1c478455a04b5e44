"""File tools confined to the configured roots: list and read (LOW).

Every path is resolved (symlinks followed) before use and must stay inside a root, so `..`,
absolute paths elsewhere and symlinks pointing out are refused before anything is touched.
Roots come from `[tools.files] roots = [...]`; by default the profile's own `files/` folder.
A guest is confined to its own subfolder of each root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.policy.gate import Risk, Role
from app.tools.spec import ToolContext, ToolFailure, ToolSpec

MAX_READ_BYTES = 256 * 1024
MAX_LIST_ENTRIES = 500


def roots(ctx: ToolContext) -> list[Path]:
    """The real paths this caller may touch."""
    configured = ctx.config.get("roots")
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


async def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
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


async def _read(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
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


def tools() -> list[ToolSpec]:
    """files_list, files_read."""
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
        ),
    ]
