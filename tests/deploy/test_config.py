"""The deployment files agree with each other and with the code, checked without Docker.

The Compose file is what an operator runs; deploy/local.py is what runs here. Both must start
the same services with the same settings, every variable they use must be documented in
.env.example, and Caddy and Prometheus must accept their configurations.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import local

DEPLOY = Path(local.__file__).resolve().parent
ROOT = DEPLOY.parent


def compose_services() -> dict[str, dict]:
    return local.load_compose()["services"]


@pytest.fixture
def plan(tmp_path: Path) -> local.Plan:
    return local.plan(tmp_path, with_optional=True)


def test_every_compose_service_runs_natively_or_is_the_machines(plan: local.Plan) -> None:
    native = {p.name for p in plan.processes}
    compose = set(compose_services())
    assert native | set(local.MACHINE) | set(local.COMPOSE_ONLY) == compose
    assert not native & (set(local.MACHINE) | set(local.COMPOSE_ONLY))
    # Two Relays on the shared store, two Cloud workers, the proxy and the status page.
    assert {"relay-1", "relay-2", "cloud-1", "cloud-2", "caddy", "web", "status"} <= native


def test_native_processes_carry_the_compose_settings(plan: local.Plan) -> None:
    services = compose_services()
    for proc in plan.processes:
        declared = services[proc.name].get("environment") or {}
        missing = set(declared) - set(proc.env)
        assert not missing, f"{proc.name} runs without {sorted(missing)}"
        for key, value in declared.items():
            if "${" not in str(value) and ":" not in str(value) and not str(value).startswith("/"):
                # Literal settings (no variable, address or mounted path) are the same on both
                # sides, except ports, which become free loopback ports here.
                expected = "127.0.0.1" if value == "0.0.0.0" else str(value)
                if not key.endswith("_PORT"):
                    assert proc.env[key] == expected, (proc.name, key)
        # No address of a container is left: each became a loopback address of this machine.
        for value in [*proc.env.values(), *proc.argv]:
            for other in services:
                assert not re.search(rf"\b{re.escape(other)}:\d+", value), (proc.name, value)


def test_relays_share_one_database_and_redis_and_allow_the_app_origin(plan: local.Plan) -> None:
    relays = [p for p in plan.processes if p.name.startswith("relay-")]
    assert len(relays) == 2
    assert len({p.env["DATABASE_URL"] for p in relays}) == 1
    assert len({p.env["REDIS_URL"] for p in relays}) == 1
    origins = relays[0].env["ORA_RELAY_ORIGINS"].split(",")
    assert f"https://app.ora.test:{plan.https_port}" in origins


def test_every_variable_is_documented_in_env_example() -> None:
    documented = {
        line.split("=")[0]
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    compose_vars = set(re.findall(r"\$\{(\w+)\}", (DEPLOY / "compose.yaml").read_text()))
    assert compose_vars <= documented, compose_vars - documented
    # The Caddyfile's variables come from Caddy's own environment in compose.yaml.
    caddy_env = set(compose_services()["caddy"]["environment"])
    set_by_launcher = {"ORA_HTTP_PORT", "ORA_HTTPS_PORT", "ORA_CADDY_ADMIN"}
    caddyfile = re.sub(r"(?m)^\s*#.*$", "", (DEPLOY / "Caddyfile").read_text())
    caddy_vars = set(re.findall(r"\{\$(\w+)", caddyfile))
    assert caddy_vars <= caddy_env | set_by_launcher, caddy_vars - caddy_env - set_by_launcher


def test_no_secret_is_committed() -> None:
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        key, _, value = line.partition("=")
        if any(w in key for w in ("SECRET", "TOKEN", "PRIVATE", "PASSWORD")):
            assert value == "", f"{key} has a value in .env.example"
    tracked = subprocess.run(
        ["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "deploy/.env" not in tracked


@pytest.mark.skipif(shutil.which("caddy") is None, reason="scripts/setup.sh installs caddy")
def test_caddy_accepts_the_caddyfile_for_production_and_for_local_use(tmp_path: Path) -> None:
    for tls, _suffix in (("ops@example.com", ""), ("internal", ":8443")):
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "ORA_DOMAIN": "example.com",
            "ORA_TLS": tls,
            "ORA_PORT_SUFFIX": _suffix,
            "ORA_RELAY_UPSTREAMS": "relay-1:8470 relay-2:8470",
            "ORA_STATUS_UPSTREAM": "status:8480",
            "ORA_WEB_UPSTREAM": "web:8490",
            "ORA_DOCS_ROOT": "/srv/docs",
        }
        out = subprocess.run(
            ["caddy", "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        config = out.stdout
        for host in ("app", "relay", "api", "status", "docs"):
            assert f'"{host}.example.com"' in config
        # The Relays' metrics stay private to the operator's Prometheus.
        assert "/metrics" in config


@pytest.mark.skipif(shutil.which("promtool") is None, reason="scripts/setup.sh installs prometheus")
def test_alert_rules_and_scrape_config_pass_promtool() -> None:
    prom = DEPLOY / "prometheus"
    for args in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ):
        out = subprocess.run(
            ["promtool", *args], cwd=prom, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stdout + out.stderr
    # Every alert the operator's guide explains exists, and every rule is explained there.
    rules = set(re.findall(r"alert: (\w+)", (prom / "alerts.yml").read_text()))
    guide = (ROOT / "docs" / "operators" / "alerts.md").read_text()
    assert rules == set(re.findall(r"\| `(\w+)` \|", guide))
    assert {
        "RelayInstanceDown",
        "NoCloudWorker",
        "RelayErrorRate",
        "RelayQueueMemory",
        "WebhookFailures",
        "CertificateExpiresSoon",
    } <= rules


def test_the_operators_guide_builds_with_mkdocs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "-q",
            "--strict",
            "-f",
            str(DEPLOY / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for page in ("deploy", "backup", "keys", "scale", "alerts"):
        assert (site / page / "index.html").exists()


async def test_every_metric_the_alerts_use_is_one_a_relay_exports(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from relay_server.app import create_app
    from relay_server.settings import RelaySettings

    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    wanted = set(re.findall(r"\b(ora_relay_\w+)", rules))
    async with TestClient(TestServer(create_app(RelaySettings(data_dir=tmp_path)))) as client:
        exported = await (await client.get("/metrics")).text()
    types = set(re.findall(r"^# TYPE (\w+)", exported, re.M))
    # Counters are exported as name_total with "# TYPE name counter".
    names = types | {f"{t}_total" for t in types}
    assert wanted <= names, wanted - names
