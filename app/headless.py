"""`ora --headless` and `ora pair`: the Node without a display; the terminal stands in for the tray.

It connects to the Relay, prints a pairing QR code for a phone, and (in a terminal) offers the
chat plus /pair, /devices, /approvals, /approve N and /deny N for devices' requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys

import qrcode

from app.backup.schedule import BackupSchedule, backup_summary
from app.core.runtime import Runtime
from app.errors import PairingRefused
from app.home_network import (
    PlainRelayRefused,
    check_relay_url,
    pairing_web_url,
    refusal_message,
)
from app.link.relay_link import CONNECTED, RelayLink
from app.local_server import server as local_server
from app.policy.approvals import ApprovalError, ApprovalRequest
from app.policy.gate import Role
from app.profile_lock import ProfileLock, language_of
from app.settings import Settings
from app.terminal import OWNER_ID, ask, run_turn
from app.update.health import take_notice
from app.version import __version__

CONNECT_WAIT_S = 5.0


def qr_text(url: str) -> str:
    """The QR code as text a terminal can show (and a phone can scan)."""
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(url)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


async def show_pairing(link: RelayLink, role: str = "owner") -> bool:
    """Open a pairing and print its QR code and URL; False when the Relay is unreachable."""
    if link.status != CONNECTED:
        print(
            f"Cannot pair now: the Relay at {link.relay_url} is not reachable ({link.last_error or 'connecting'})."
        )
        return False
    try:
        _invite, url = await link.open_pairing(role=role)
    except PairingRefused as err:
        print(f"Cannot pair: {err}.")
        return False
    print(f"\nScan this with your phone's camera to pair it as {role} (valid 5 minutes, once):\n")
    print(qr_text(url))
    print(f"or open: {url}\n", flush=True)
    return True


async def run(
    settings: Settings,
    *,
    pair_role: str = "owner",
    show_qr: bool = True,
    lock: ProfileLock | None = None,
) -> int:
    """Run the Node until Ctrl+C (or /quit in a terminal); `lock` is this profile's (cli.py).

    Ctrl+C or a TERM (from `make run`) at any moment, start-up included, is how a person
    stops ORA: everything closes in order and the exit code is 0, with no traceback.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    signalled: list[int] = []

    def stop(sig: int) -> None:
        if not signalled and main is not None:
            main.cancel()
        signalled.append(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop, sig)
    try:
        return await _run(settings, pair_role=pair_role, show_qr=show_qr, lock=lock)
    except asyncio.CancelledError:
        if not signalled:
            raise
        print("\nORA stopped.", flush=True)
        return 0


async def _run(
    settings: Settings, *, pair_role: str, show_qr: bool, lock: ProfileLock | None
) -> int:
    runtime = await Runtime.open(settings)
    # After a rollback the launcher left a message; say it once, here.
    notice = take_notice(settings.updates)
    if notice:
        print(f"ora: {notice}", file=sys.stderr, flush=True)
    try:
        check_relay_url(settings.relay_url, home_network=settings.home_network)
    except PlainRelayRefused as err:
        await runtime.close()
        language = language_of(settings.locale, os.environ)
        print(f"ora: {refusal_message(err, language)}", file=sys.stderr, flush=True)
        return 2
    link = RelayLink(
        runtime=runtime,
        relay_urls=[settings.relay_url],
        web_url=pairing_web_url(
            settings.relay_url, settings.web_url, home_network=settings.home_network
        ),
    )
    local: local_server.LocalServer | None = None
    # Scheduled backups (when the owner turned backup on) run beside the link on this loop.
    schedule = BackupSchedule(
        settings,
        runtime.secrets,
        on_failed=lambda why: print(f"ora: backup failed: {why}", file=sys.stderr, flush=True),
    )
    backups = asyncio.create_task(schedule.run_forever())
    try:
        link.on_status(lambda s: print(f"[relay: {s}]", flush=True) if s != "connecting" else None)
        link.start()
        local = await local_server.start(runtime, on_show=_asked_to_show)
        if lock is not None:
            lock.describe(port=local.port if local is not None else None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CONNECT_WAIT_S):
                await link.wait_connected()
        await runtime.wait_ready()
        enabled = [s.config.name for s in runtime.providers.statuses if s.enabled]
        print(f"ORA {__version__} running headless — {settings.profile.value} profile")
        print(f"  state:     {settings.state_dir}")
        print(f"  secrets:   {runtime.secrets.backend_description}")
        print(
            f"  providers: {', '.join(enabled) if enabled else 'none (explicit commands only; see README)'}"
        )
        print(f"  relay:     {settings.relay_url} ({link.status})")
        print(f"  backup:    {backup_summary(settings)}")
        if settings.home_network:
            print(
                "  home network: phones on this network can pair and chat through "
                f"{settings.relay_url}.\n"
                "    The connection itself is not encrypted (plain http); your messages are "
                "end-to-end encrypted.\n"
                "    Beyond home: set an https:// relay_url (see README, Remote access)."
            )
        if local is not None:
            print(
                f"  on this PC: {local.url}#local=<the token in {settings.state_dir}/local-token>"
            )
        else:
            print(f"  on this PC: not served (port {settings.local_port} is in use)")
        sys.stdout.flush()
        runtime.broker.subscribe(_announce)
        if show_qr:
            await show_pairing(link, pair_role)
        if sys.stdin.isatty():
            return await _terminal(runtime, link)
        print("Press Ctrl+C to stop.", flush=True)
        await asyncio.Event().wait()  # until a signal cancels this task (run() above)
        return 0
    finally:
        backups.cancel()
        await link.stop()
        if local is not None:
            await local.stop()
        await runtime.close()


def _asked_to_show() -> None:
    print("\n[another start of ORA asked for this one: it keeps running here]", flush=True)


def _announce(event: object) -> None:
    if isinstance(event, ApprovalRequest) and event.channel not in ("terminal", "tray"):
        print(
            f"\n[approval needed] {event.tool} ({event.risk.name}) asked from device {event.channel[:8]}: "
            "type /approvals to answer",
            flush=True,
        )


async def _terminal(runtime: Runtime, link: RelayLink) -> int:
    print("Chat here; /pair, /code, /devices, /approvals, /approve N, /deny N, /quit.")
    confirmations: list[asyncio.Future[bool]] = []

    async def confirm(code: str, name: str, role: str) -> bool:
        print(
            f"\n[pairing] '{name}' wants to pair as {role}. Does its screen show {code}? "
            "Type /yes if it does, /no if not.",
            flush=True,
        )
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        confirmations.append(answer)
        try:
            return await answer
        finally:
            confirmations.remove(answer)

    link.confirm_pairing = confirm
    while True:
        line = (await ask("> ")).strip()
        words = line.split()
        if line in ("/quit", "/exit"):
            return 0
        if not words:
            continue
        if words[0] in ("/yes", "/no") and confirmations:
            confirmations[0].set_result(words[0] == "/yes")
        elif words[0] == "/code":
            role = words[1] if len(words) > 1 and words[1] in ("owner", "guest") else "owner"
            try:
                code = await link.open_code_pairing(role=role)
            except (ConnectionError, PairingRefused) as err:
                print(f"  {err}")
                continue
            print(
                f"  On the other device open {link.web_url or link.relay_url + '/app/'} and type: "
                f"{code}  (5 minutes, once)"
            )
        elif words[0] == "/pair":
            await show_pairing(
                link, words[1] if len(words) > 1 and words[1] in ("owner", "guest") else "owner"
            )
        elif words[0] == "/devices":
            for d in link.devices():
                state = "revoked" if d.revoked else d.role
                print(f"  {d.device_id[:8]}  {d.name:<20} {state}")
            if not link.devices():
                print("  no paired devices yet: /pair")
        elif words[0] == "/approvals":
            for i, req in enumerate(runtime.broker.pending(), 1):
                print(
                    f"  {i}. {req.tool} ({req.risk.name}) {req.arguments} — asked by {req.requester}"
                )
            if not runtime.broker.pending():
                print("  nothing waiting")
        elif words[0] in ("/approve", "/deny") and len(words) == 2 and words[1].isdigit():
            pending = runtime.broker.pending()
            index = int(words[1]) - 1
            if not 0 <= index < len(pending):
                print("  no such approval: /approvals lists them")
                continue
            req = pending[index]
            try:
                runtime.broker.answer(
                    req.approval_id,
                    approve=words[0] == "/approve",
                    digest=req.digest,
                    answered_by=OWNER_ID,
                    answerer_role=Role.OWNER,
                    channel="terminal",
                )
                print("  done")
            except ApprovalError as err:
                print(f"  {err}")
        else:
            await run_turn(runtime, line)
