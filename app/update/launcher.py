"""The launcher step every start of the installed app goes through.

The stub in the install root starts the *stable* version's program with ORA_LAUNCHER_ROOT
set. That program calls `launch_or_continue` first thing:

    no trial pending, I am stable ─────────────────────────► continue in this process
    a trial version is pending:
        snapshot the profile data (once) ─► start the trial version as a child
            child writes the health file ──► trial becomes stable; wait for the child
            child exits first, inconclusive: --version/--help, Ctrl+C, or "already running"
                                             (another ORA holds the profile) ─► trial stays
            child exits otherwise (0 too) ─┐
            child fails / deadline passes ─► stop it, restore the data snapshot, make the
                                             previous version stable again, write a report,
                                             continue in this (stable) process

The supervising code is always the last version that proved itself, never the new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path

from app.profile_lock import ALREADY_RUNNING
from app.settings import state_root
from app.update import snapshot
from app.update.layout import InstallRoot, InstallState, Trial

_LOGGER = logging.getLogger(__name__)

HEALTH_DEADLINE_S = 90.0
_POLL_S = 0.05
_INTERRUPTED = (130, -2, 0xC000013A)  # Ctrl+C: the user stopped it, not a failed start
# Commands that end before any start-up work; exiting 0 for them says nothing about health.
# Every other start must report healthy (app/update/health.py) or it counts as failed: a
# version that quits at once with 0 would otherwise stay on trial, and run, forever.
_SHORT_ARGS = frozenset({"--version", "--help", "-h"})


def launch_or_continue(
    argv: Sequence[str], own_version: str, env: MutableMapping[str, str]
) -> int | None:
    """An exit code when another process ran ORA; None when this process should go on."""
    root_path = env.pop("ORA_LAUNCHER_ROOT", None)
    if not root_path:
        return None
    root = InstallRoot(Path(root_path))
    env["ORA_INSTALL_ROOT"] = str(root.path)
    state = root.read()
    if state.trial is not None and state.trial.previous == own_version:
        with _trial_lock(root) as mine:
            if not mine:
                print(
                    f"ora: ORA is starting its new version {state.trial.version} in another "
                    "window; try again in a moment.",
                    file=sys.stderr,
                )
                return 1
            state = root.read()  # another start may have decided the trial meanwhile
            if state.trial is not None and state.trial.previous == own_version:
                deadline = float(env.get("ORA_HEALTH_DEADLINE_S", HEALTH_DEADLINE_S))
                code = _supervise(root, state, state.trial, argv, env, deadline)
                if code is not None:
                    return code
        state = root.read()
    if state.stable != own_version:
        # The stub was stale (or this program is not the stable one): run the stable one.
        env["ORA_LAUNCHER_ROOT"] = str(root.path)
        env.pop("ORA_INSTALL_ROOT", None)
        return _run([str(root.executable(state.stable)), *argv], env)
    return None


@contextlib.contextmanager
def _trial_lock(root: InstallRoot) -> Iterator[bool]:
    """One supervisor per trial; the OS drops the lock if its holder dies."""
    path = root.path / "update" / "trial.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as f:
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True  # released when the file closes


def _run(cmd: list[str], env: MutableMapping[str, str]) -> int:
    try:
        return subprocess.call(cmd, env=dict(env))
    except KeyboardInterrupt:
        return 130


def _supervise(
    root: InstallRoot,
    state: InstallState,
    trial: Trial,
    argv: Sequence[str],
    env: MutableMapping[str, str],
    deadline_s: float,
) -> int | None:
    data_dir = state_root(env) / "profiles"
    if not trial.snapshot:
        _back_up_first(env)
        rel = f"snapshots/{trial.previous}-to-{trial.version}"
        snapshot.take(data_dir, root.path / rel)
        trial = replace(trial, snapshot=rel)
        state = replace(state, trial=trial)
        root.write(state)
    root.health_file.unlink(missing_ok=True)
    child_env = dict(env)
    child_env["ORA_HEALTH_FILE"] = str(root.health_file)
    started = time.monotonic()
    try:
        child = subprocess.Popen([str(root.executable(trial.version)), *argv], env=child_env)
    except OSError as err:
        _roll_back(root, state, trial, data_dir, f"could not be started ({err})")
        return None
    try:
        while True:
            if root.health_file.exists():
                _confirm(root, state, trial)
                return child.wait()
            code = child.poll()
            if code is not None:
                if _inconclusive(code, argv):
                    return code
                _roll_back(
                    root,
                    state,
                    trial,
                    data_dir,
                    f"exited with code {code} before it reported a healthy start",
                )
                return None
            if time.monotonic() - started > deadline_s:
                _stop(child)
                _roll_back(
                    root,
                    state,
                    trial,
                    data_dir,
                    f"did not report a healthy start within {deadline_s:g} s",
                )
                return None
            time.sleep(_POLL_S)
    except KeyboardInterrupt:
        _stop(child)
        return 130


def _back_up_first(env: MutableMapping[str, str]) -> None:
    """The owner's encrypted backup (profiles that have it on) before the data snapshot; the
    update goes on whatever happens to it (app/backup/before_update.py)."""
    try:
        from app.backup.before_update import back_up_profiles

        back_up_profiles(env)
    except Exception:  # a backup must never stop or break an update
        _LOGGER.exception("backup before the update failed")


def _inconclusive(code: int, argv: Sequence[str]) -> bool:
    """An exit that neither proves nor disproves the new version: the trial stays pending."""
    if code in _INTERRUPTED or code == ALREADY_RUNNING:
        return True
    return code == 0 and any(arg in _SHORT_ARGS for arg in argv)


def _stop(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _confirm(root: InstallRoot, state: InstallState, trial: Trial) -> None:
    root.write(InstallState(stable=trial.version, previous=trial.previous, failed=state.failed))
    _LOGGER.info("version %s started healthy; it is now the stable version", trial.version)
    if trial.snapshot:
        # The data now belongs to the new version; an old snapshot would only mislead.
        shutil.rmtree(root.path / trial.snapshot, ignore_errors=True)
    root.prune()


def _roll_back(
    root: InstallRoot, state: InstallState, trial: Trial, data_dir: Path, reason: str
) -> None:
    restored = False
    if trial.snapshot and (root.path / trial.snapshot).is_dir():
        snapshot.restore(root.path / trial.snapshot, data_dir)
        restored = True
    root.write(
        InstallState(
            stable=trial.previous,
            previous=state.previous,
            failed=(*state.failed, trial.version),
        )
    )
    root.prune()
    message = (
        f"ORA {trial.version} {reason}, so ORA went back to {trial.previous}"
        + (" and your data as it was before the update" if restored else "")
        + ". That version will not be offered again; nothing is lost."
    )
    report = {
        "event": "rollback",
        "failed_version": trial.version,
        "running_version": trial.previous,
        "reason": reason,
        "data_restored": restored,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    root.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    (root.reports_dir / f"rollback-{trial.version}-{stamp}.json").write_text(
        json.dumps(report, indent=2) + "\n", encoding="utf-8"
    )
    root.notice_file.write_text(message + "\n", encoding="utf-8")
    if trial.snapshot:
        shutil.rmtree(root.path / trial.snapshot, ignore_errors=True)
    # The stable version goes on in this process and shows the notice (stderr, tray balloon).
    _LOGGER.warning("rollback: %s", message)
