"""The `ora` command: tray app, headless Node, terminal chat, audit check, keys, self-test.

Only this module reads the command line; everything else gets a Settings object.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.errors import OraError
from app.private_profile import describe_fixed, make_private
from app.profile_lock import (
    ALREADY_RUNNING,
    AlreadyRunning,
    ProfileLock,
    already_running_message,
    bring_forward,
    language_of,
)
from app.settings import Settings, load_settings
from app.version import __version__

_LOGGER = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ora", description="ORA, your personal AI secretary on this PC."
    )
    p.add_argument("--version", action="version", version=f"ora {__version__}")
    p.add_argument(
        "--profile", default="private", choices=["private", "shared"], help="which ORA state to use"
    )
    p.add_argument(
        "--headless", action="store_true", help="run without the tray (no display needed)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more to the terminal")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("chat", help="chat with ORA in this terminal")
    audit = sub.add_parser("audit", help="the tool-call audit log")
    audit.add_argument("action", choices=["verify", "show"])
    key = sub.add_parser("key", help="API keys in the OS keyring")
    key.add_argument("action", choices=["set", "list", "delete"])
    key.add_argument("name", nargs="?")
    prov = sub.add_parser("providers", help="which AI providers are enabled, and why not")
    prov.add_argument(
        "--usage", action="store_true", help="tokens and cost per provider, from this PC's record"
    )
    sub.add_parser("self-test", help="check that this installation works (exit 0 when healthy)")
    sub.add_parser("show", help="bring the running ORA forward (exit 1 when it is not running)")
    update = sub.add_parser("update", help="check for, download and install a signed update")
    update.add_argument("action", choices=["check", "apply", "install"])
    update.add_argument("--restart", action="store_true", help="start the new version now")
    update.add_argument("--root", type=Path, help="install: where (default: per-user app dir)")
    from app.backup.cli import add_parser as add_backup_parser

    add_backup_parser(sub)
    pair = sub.add_parser("pair", help="run the Node and show a QR code to pair a phone or browser")
    pair.add_argument(
        "--role", default="owner", choices=["owner", "guest"], help="owner, or a friend as guest"
    )
    return p


def _setup_logging(settings: Settings, verbose: bool) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    # Conversation content may only be logged on the Node, in the profile's own log folder.
    handler = logging.FileHandler(settings.logs_dir / "ora.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("ora: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.handlers[:] = [handler, console]
    for noisy in ("LiteLLM", "litellm", "httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ora` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        launched = _launcher_step(argv)
        if launched is not None:
            return launched
        args = _parser().parse_args(argv)
        settings = load_settings(args.profile)
        # Before anything opens the profile: its history must not be readable by others.
        fixed = make_private(settings.state_dir)
        _setup_logging(settings, args.verbose)
        if fixed:
            _LOGGER.warning(describe_fixed(fixed))
        code = _dispatch(args, settings)
        if code == 0 and args.command not in (None, "pair", "show"):
            # A command that ran to its end is a healthy start of a version on trial
            # (app/update/launcher.py); the Node's own starts say so once the core opens.
            from app.update.health import mark_healthy

            mark_healthy(settings.updates.health_file)
        return code
    except OraError as err:
        print(f"ora: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _launcher_step(argv: list[str]) -> int | None:
    """The installed app's start: run a version on trial, or roll it back (app/update/launcher.py)."""
    if not os.environ.get("ORA_LAUNCHER_ROOT"):
        return None
    from app.update.launcher import launch_or_continue

    return launch_or_continue(argv, __version__, os.environ)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "show":
        return _show_running(settings)
    lock: ProfileLock | None = None
    if command in (None, "pair"):
        # A Node start: one per profile (profile_lock.py says why).
        try:
            lock = ProfileLock.acquire(
                settings.state_dir,
                settings.profile.value,
                wait_s=float(os.environ.get("ORA_LOCK_WAIT_S", "0") or 0),
            )
        except AlreadyRunning as err:
            return _already_running(settings, err)
    if command is None and not args.headless and _has_display():
        # The tray imports the core behind its icon; nothing heavy is imported before it.
        from app.tray.launch import main as tray_main

        return tray_main(settings, lock)
    if command == "update":
        from app.update import cli as update
        from app.update.cli import update_command

        if args.action == "install":
            return update.install_command(args.root)
        return update_command(settings, args.action, __version__, args.restart)
    from app import headless, terminal

    if command == "backup":
        from app.backup.cli import main as backup_main

        return backup_main(settings, args)
    if command == "chat":
        return asyncio.run(terminal.chat(settings))
    if command == "audit":
        return asyncio.run(terminal.audit(settings, args.action))
    if command == "key":
        return _keys(settings, args.action, args.name)
    if command == "providers":
        return asyncio.run(terminal.providers(settings, usage=bool(args.usage)))
    if command == "self-test":
        return asyncio.run(terminal.self_test(settings))
    if command == "pair":
        return asyncio.run(headless.run(settings, pair_role=args.role, lock=lock))
    return asyncio.run(headless.run(settings, lock=lock))


def _already_running(settings: Settings, err: AlreadyRunning) -> int:
    shown = bring_forward(settings.state_dir, err.port)
    language = language_of(settings.locale, os.environ)
    print(f"ora: {already_running_message(err, language, shown)}", file=sys.stderr)
    return ALREADY_RUNNING


def _show_running(settings: Settings) -> int:
    """`ora show` (what a second `make run` does first): 0 and a message when ORA runs."""
    try:
        ProfileLock.acquire(settings.state_dir, settings.profile.value).release()
    except AlreadyRunning as err:
        _already_running(settings, err)
        return 0
    return 1


def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _keys(settings: Settings, action: str, name: str | None) -> int:
    from app.store.secrets import SecretStore

    store = SecretStore.open(settings.profile, settings.state_dir)
    if action == "list":
        names = store.names()
        print(f"secrets of the {settings.profile.value} profile ({store.backend_description}):")
        for n in names:
            print(f"  {n}")
        if not names:
            print("  (none)")
        return 0
    if not name:
        print(f"ora: `ora key {action}` needs a NAME (the key_ref of a provider)", file=sys.stderr)
        return 2
    if action == "delete":
        store.delete(name)
        print(f"deleted {name!r}")
        return 0
    value = (
        getpass.getpass(f"API key for {name!r}: ")
        if sys.stdin.isatty()
        else sys.stdin.readline().strip()
    )
    if not value:
        print("ora: empty key; nothing stored", file=sys.stderr)
        return 2
    store.set(name, value)
    print(f"stored {name!r} in {store.backend_description}")
    return 0


def _json_line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


if __name__ == "__main__":
    raise SystemExit(main())
