"""`ora-relay`: run the Relay (SQLite, in-process routing) with JSON logs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from aiohttp import web

from relay_server.app import create_app
from relay_server.settings import RelaySettings


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never frame content (the Relay has none in plaintext anyway)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ora-relay`."""
    p = argparse.ArgumentParser(prog="ora-relay", description="The ORA Relay")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    args = p.parse_args(argv)
    settings = RelaySettings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger(__name__).info("relay starting on %s:%s", settings.host, settings.port)
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None, access_log=None
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
