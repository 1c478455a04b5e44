"""The Relay's settings: one table of environment variables, a named error for a bad value."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from relay_server.settings import ENVIRONMENT, RelaySettings, SettingsError

REPO = Path(__file__).resolve().parents[2]


def test_every_variable_sets_its_field() -> None:
    fields = {f.name for f in dataclasses.fields(RelaySettings)}
    assert all(name in fields for _, name, _ in ENVIRONMENT)
    settings = RelaySettings.from_env(
        {
            "ORA_RELAY_ORIGINS": " https://a.example , https://b.example,",
            "ORA_RELAY_ACCESS_TTL_S": "60",
            "ORA_RELAY_CLOUD_TOKEN_SHA256": " " + "AB" * 32 + "\n",
            "ORA_RELAY_CLOUD_BUDGET_USD": "2.5",
            "ORA_RELAY_NEW_ACCOUNT_STATUS": "past_due",
            "ORA_RELAY_REDIS_PREFIX": "",  # empty: unset, the default stays
            "ORA_RELAY_PUSH_SERVICES": "https://push.example, https://*.push.example",
            "ORA_RELAY_VAPID_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
        }
    )
    assert settings.push_services == ("https://push.example", "https://*.push.example")
    assert "PRIVATE KEY" not in repr(settings), "a secret would reach a log with the settings"
    assert settings.public_origins == ("https://a.example", "https://b.example")
    assert settings.access_ttl_s == 60 and settings.cloud_budget_usd == 2.5
    assert settings.cloud_token_hash == "ab" * 32
    assert settings.new_account_status == "past_due" and settings.redis_prefix == "ora"


def test_overrides_win_over_the_environment() -> None:
    settings = RelaySettings.from_env({"ORA_RELAY_DATA_DIR": "/env"}, data_dir=Path("/cli"))
    assert settings.data_dir == Path("/cli")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORA_RELAY_ACCESS_TTL_S", "15m"),
        ("ORA_RELAY_PLAN_PRICE_USD", "five"),
        ("ORA_RELAY_CLOUD_TOKEN_SHA256", "not-a-hash"),
        ("ORA_RELAY_NEW_ACCOUNT_STATUS", "free"),
    ],
)
def test_a_bad_value_is_named(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        RelaySettings.from_env({variable: value})


def test_ora_relay_says_which_setting_is_wrong_and_exits(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "relay_server", "--port", "1", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "ORA_RELAY_SEND_QUEUE_BYTES": "2MB"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "ORA_RELAY_SEND_QUEUE_BYTES" in result.stderr and "Traceback" not in result.stderr
