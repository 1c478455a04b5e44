"""Run a shell command on the PC (CRITICAL: always the owner's approval, never for guests).

The tool enforces the limits the gate cannot: a timeout that kills the whole process group,
a cap on the output kept, no standard input, and the first allowed folder as working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from app.policy.gate import Risk
from app.policy.taint import Outbound, ToolFlow
from app.tools.files import roots
from app.tools.spec import ToolContext, ToolFailure, ToolSpec

DEFAULT_TIMEOUT_S = 30.0
MAX_TIMEOUT_S = 300.0
MAX_OUTPUT_BYTES = 64 * 1024


async def _run(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    timeout = min(float(args.get("timeout_s", DEFAULT_TIMEOUT_S)), MAX_TIMEOUT_S)
    cap = int(ctx.config.get("max_output_bytes", MAX_OUTPUT_BYTES))
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            args["command"],
            cwd=(await asyncio.to_thread(roots, ctx))[0],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except OSError as err:
        raise ToolFailure(f"could not start the command: {err.strerror}") from None
    assert proc.stdout is not None
    output = bytearray()
    timed_out = False

    async def read_all() -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(65536):
            if len(output) < cap:
                output.extend(chunk[: cap - len(output)])

    try:
        await asyncio.wait_for(asyncio.gather(read_all(), proc.wait()), timeout)
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    return {
        "exit_code": proc.returncode,
        "output": output.decode("utf-8", errors="replace"),
        "truncated": len(output) >= cap,
        "timed_out": timed_out,
    }


async def _outbound(ctx: ToolContext, args: dict[str, Any]) -> Outbound:
    return Outbound(destination="a shell command (it can reach any address)", body=args["command"])


def tools() -> list[ToolSpec]:
    """shell."""
    return [
        ToolSpec(
            name="shell",
            description="Run a shell command on this PC",
            parameters={
                "type": "object",
                "properties": {
                    "command": {"type": "string", "minLength": 1, "maxLength": 10_000},
                    "timeout_s": {"type": "number", "minimum": 1, "maximum": MAX_TIMEOUT_S},
                },
                "required": ["command"],
                "additionalProperties": False,
            },
            risk=Risk.CRITICAL,
            # A command can read anything and send it anywhere, and its output is not ours.
            flow=ToolFlow(untrusted=True, sends_out=True, private=True),
            outbound=_outbound,
            handler=_run,
        )
    ]
