"""Run deploy/compose.yaml's stack natively, without Docker, on `*.ora.test` names.

    python deploy/local.py up [--state DIR] [--foreground]   start it (Ctrl+C stops all)
    python deploy/local.py down [--state DIR]                stop what `up` started
    python deploy/local.py secrets                           fresh values for .env's secrets

The services, their commands and their settings are read from compose.yaml itself, so the two
cannot drift apart: each container becomes a process of this machine. What differs is written
down here, once:
  - `postgres` and `redis` are the machine's own (a database and a Redis key prefix of this
    stack's own);
  - `caddy` is Debian's caddy with its internal CA (`ORA_TLS=internal`) on high ports;
  - a service's port becomes a free loopback port and `service:port` addresses are rewritten
    to it; `0.0.0.0` becomes 127.0.0.1; bind mounts are the repository's paths, named volumes
    folders of the state directory; `python` is this interpreter;
  - secrets are generated into the state directory (never into the repository).
Browsers reach the stack with `--host-resolver-rules="MAP *.ora.test 127.0.0.1"` and trust
`<state>/caddy-data/caddy/pki/authorities/local/root.crt`; `stack.json` there lists the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
DOMAIN = "ora.test"
# Services the machine provides instead of a process of ours, with their address here.
MACHINE = {"postgres": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379)}
# Optional: started only when asked (Debian's prometheus package provides the binary).
OPTIONAL = {"prometheus"}
# Services only Compose runs, and why.
COMPOSE_ONLY = {"blackbox": "the TLS probe exporter is not packaged for this machine"}
# The port each service listens on inside its container, when not in its command line.
CONTAINER_PORTS = {"caddy": 443, "prometheus": 9090, "postgres": 5432, "redis": 6379}


class DeployError(Exception):
    """The stack cannot start; the message says what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secrets() -> dict[str, str]:
    """Fresh values for every secret line of .env.example."""
    sys.path.insert(0, str(REPO))
    from protocol.e2ee import generate_keypair
    from protocol.encoding import b64u_encode
    from protocol.tokens import new_token, token_hash

    # What `ora-cloud keygen` prints, without loading the worker (and its model library).
    private, public = generate_keypair()
    credential = new_token("cw")
    return {
        "POSTGRES_PASSWORD": token_urlsafe(32),
        "ORA_RELAY_WEBHOOK_SECRET": "whsec_" + token_urlsafe(32),
        "ORA_CLOUD_PRIVATE_KEY": b64u_encode(private),
        "ORA_CLOUD_TOKEN": credential,
        "ORA_RELAY_CLOUD_PUBLIC_KEY": b64u_encode(public),
        "ORA_RELAY_CLOUD_TOKEN_SHA256": token_hash(credential),
    }


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}` (unset = empty, as Compose does with a warning)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), value)


def container_port(name: str, service: dict[str, Any]) -> int | None:
    """The port a service listens on in its container: `--port N`, a *_PORT setting, or known."""
    command = [str(c) for c in service.get("command", [])]
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    for key, value in (service.get("environment") or {}).items():
        if key.endswith("METRICS_PORT"):
            return int(value)
    return CONTAINER_PORTS.get(name)


@dataclass
class Process:
    """One service as a process of this machine."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    health: str  # a URL answering 200 once the service is up ("" = none)
    pid: int = 0


@dataclass
class Plan:
    """The whole stack as this machine runs it, derived from compose.yaml."""

    state: Path
    env: dict[str, str]  # the .env values (generated secrets included)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    database: str = ""

    @property
    def https_port(self) -> int:
        return self.addresses["caddy"][1]

    @property
    def ca_root(self) -> Path:
        return self.state / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def url(self, sub: str) -> str:
        return f"https://{sub}.{DOMAIN}:{self.https_port}"


def _env_file(state: Path) -> dict[str, str]:
    """.env for this stack: .env.example's defaults, local choices, generated secrets (kept)."""
    path = state / "env.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values: dict[str, str] = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    values.update(secrets())
    values.update(
        ORA_DOMAIN=DOMAIN,
        ORA_TLS="internal",
        ORA_RELAY_TRUSTED_PROXIES="127.0.0.1/32",
        ORA_REDIS_PREFIX=f"ora-local-{os.urandom(4).hex()}",
        ORA_CLOUD_MODEL=os.environ.get("ORA_CLOUD_MODEL", values.get("ORA_CLOUD_MODEL", "")),
        ORA_CLOUD_API_BASE=os.environ.get("ORA_CLOUD_API_BASE", ""),
        ORA_CLOUD_API_KEY=os.environ.get("ORA_CLOUD_API_KEY", ""),
    )
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def plan(state: Path, *, with_optional: bool = False, https_port: int = 0) -> Plan:
    """compose.yaml's services as processes of this machine (nothing is started)."""
    compose = load_compose()
    services: dict[str, dict[str, Any]] = compose["services"]
    env = _env_file(state)
    p = Plan(state=state, env=env, database=f"ora_{env['ORA_REDIS_PREFIX'].replace('-', '_')}")
    wanted = [
        n
        for n in services
        if n not in MACHINE and n not in COMPOSE_ONLY and (with_optional or n not in OPTIONAL)
    ]
    p.addresses.update(MACHINE)
    for name in wanted:
        port = https_port if name == "caddy" and https_port else free_port()
        p.addresses[name] = ("127.0.0.1", port)
    env["ORA_PORT_SUFFIX"] = f":{p.https_port}"

    rewrites: list[tuple[str, str]] = []
    for name, service in services.items():
        listen = container_port(name, service)
        if listen is not None and name in p.addresses:
            host, port = p.addresses[name]
            rewrites.append((f"{name}:{listen}", f"{host}:{port}"))
    # The machine's PostgreSQL: this stack's own database, trust authentication on loopback.
    rewrites.append(("127.0.0.1:5432/ora", f"127.0.0.1:5432/{p.database}"))

    def native(value: str, mounts: dict[str, str]) -> str:
        value = interpolate(value, env)
        for inner, outer in rewrites:
            value = value.replace(inner, outer)
        for inner, outer in mounts.items():
            if value == inner or value.startswith(inner + "/"):
                value = outer + value[len(inner) :]
        return "127.0.0.1" if value == "0.0.0.0" else value  # noqa: S104 - compose's bind-all

    for name in wanted:
        service = services[name]
        mounts: dict[str, str] = {}
        for volume in service.get("volumes", []):
            source, inner = str(volume).split(":")[:2]
            if source.startswith("."):
                mounts[inner] = str((DEPLOY / source).resolve())
            else:
                mounts[inner] = str(state / "volumes" / source)
        argv = [native(str(a), mounts) for a in service.get("command", [])]
        port = p.addresses[name][1]
        if "--port" in argv:
            argv[argv.index("--port") + 1] = str(port)
        proc_env = {
            k: native(str(v), mounts) for k, v in (service.get("environment") or {}).items()
        }
        if argv and argv[0] == "python":
            argv[0] = sys.executable
        health = ""
        if name.startswith("relay"):
            health = f"http://127.0.0.1:{port}/readyz"
        elif name.startswith("cloud"):
            proc_env["ORA_CLOUD_METRICS_PORT"] = str(port)
            health = f"http://127.0.0.1:{port}/healthz"
        elif name == "web":
            health = f"http://127.0.0.1:{port}/healthz"
        elif name == "status":
            proc_env["ORA_STATUS_INTERVAL_S"] = os.environ.get("ORA_STATUS_INTERVAL_S", "2")
            health = f"http://127.0.0.1:{port}/healthz"
        elif name == "caddy":
            argv[0] = shutil.which("caddy") or "caddy"
            proc_env.update(
                ORA_HTTPS_PORT=str(port),
                ORA_HTTP_PORT=str(free_port()),
                ORA_CADDY_ADMIN=f"127.0.0.1:{free_port()}",
                XDG_DATA_HOME=str(state / "caddy-data"),
                XDG_CONFIG_HOME=str(state / "caddy-config"),
            )
        elif name == "prometheus":
            argv = [shutil.which("prometheus") or "prometheus", *argv]
            argv.append(f"--web.listen-address=127.0.0.1:{port}")
            argv.append(f"--storage.tsdb.path={state / 'volumes' / 'prometheus'}")
        p.processes.append(Process(name, argv, proc_env, port, health))
    return p


def _prepare(p: Plan) -> None:
    """What the containers' images and volumes would hold: static sites, data folders, a DB."""
    (p.state / "logs").mkdir(parents=True, exist_ok=True)
    (p.state / "volumes").mkdir(exist_ok=True)
    build = DEPLOY / "build"
    # The web client as a release ships it: a bundle signed by a release key. Here the key is
    # this stack's own (in the state folder), pinned by the bundle it signs; production signs
    # with ORA's offline release key (`python -m installer.release web`).
    sys.path.insert(0, str(REPO))
    from installer import release_key, web_bundle

    key_path = p.state / "web-release.ed25519"
    if not key_path.exists():
        release_key.save(release_key.generate(), key_path)
    web_bundle.build(
        REPO / "assets" / "web",
        build / "app",
        release_key.load(key_path),
        "1.0.0",
        pin_own_key=True,
    )
    docs = build / "docs"
    if not docs.exists():
        subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(DEPLOY / "mkdocs.yml")],
            check=True,
            cwd=REPO,
        )
    import asyncio

    import asyncpg

    async def create_database() -> None:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'ora'"):
                await admin.execute("CREATE ROLE ora LOGIN")
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", p.database):
                await admin.execute(f'CREATE DATABASE "{p.database}" OWNER ora')
        finally:
            await admin.close()

    try:
        asyncio.run(create_database())
    except OSError as exc:
        raise DeployError(f"PostgreSQL is not running on 127.0.0.1:5432 ({exc})") from None


def _wait(url: str, deadline: float, *, context: Any = None) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as resp:  # noqa: S310
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def start(p: Plan, *, timeout_s: float = 120.0) -> None:
    """Start every process in compose order and wait until each answers; stack.json records it."""
    _prepare(p)
    deadline = time.monotonic() + timeout_s
    try:
        for proc in p.processes:
            log = (p.state / "logs" / f"{proc.name}.log").open("ab")
            child = subprocess.Popen(
                proc.argv,
                cwd=REPO,
                env={**os.environ, **proc.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C in a terminal reaches us, and we stop them in order
            )
            proc.pid = child.pid
            _record(p)
        for proc in p.processes:
            if proc.health and not _wait(proc.health, deadline):
                raise DeployError(f"{proc.name} did not come up: see {p.state / 'logs'}")
    except BaseException:
        stop(p.state)
        raise


def _record(p: Plan) -> None:
    (p.state / "stack.json").write_text(
        json.dumps(
            {
                "https_port": p.https_port,
                "ca_root": str(p.ca_root),
                "database": p.database,
                "services": {
                    proc.name: {"pid": proc.pid, "port": proc.port} for proc in p.processes
                },
            },
            indent=2,
        )
    )


def stop(state: Path, *, grace_s: float = 10.0) -> list[str]:
    """Stop what `start` started, newest first: SIGTERM, then SIGKILL after the grace period."""
    path = state / "stack.json"
    if not path.exists():
        return []
    services = json.loads(path.read_text())["services"]
    stopped = []
    for name, info in reversed(list(services.items())):
        pid = int(info["pid"])
        if not pid:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.monotonic() + grace_s
        while time.monotonic() < end and _alive(pid):
            time.sleep(0.05)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        stopped.append(name)
    path.unlink()
    return stopped


def _alive(pid: int) -> bool:
    try:
        # Reap it if it is our child; otherwise just ask whether it still exists.
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/local.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "secrets"])
    parser.add_argument("--state", type=Path, default=Path("/tmp/ora-deploy"))  # noqa: S108
    parser.add_argument("--foreground", action="store_true", help="run until Ctrl+C")
    parser.add_argument("--with-prometheus", action="store_true")
    parser.add_argument("--https-port", type=int, default=8443)
    args = parser.parse_args(argv)
    if args.command == "secrets":
        for key, value in secrets().items():
            print(f"{key}={value}")
        return 0
    if args.command == "down":
        print("stopped:", ", ".join(stop(args.state)) or "nothing was running")
        return 0
    args.state.mkdir(parents=True, exist_ok=True, mode=0o700)
    stop(args.state)
    p = plan(args.state, with_optional=args.with_prometheus, https_port=args.https_port)
    try:
        start(p)
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1
    for sub in ("app", "relay", "api", "status", "docs"):
        print(f"{sub:>7}: {p.url(sub)}")
    print(f"CA root: {p.ca_root}")
    if not args.foreground:
        return 0
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        stop(args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
