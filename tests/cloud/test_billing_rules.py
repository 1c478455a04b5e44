"""The ledger's rules one at a time: webhook signatures, money, and the operator's CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from relay_server.billing import sign, to_nusd, verify_signature
from relay_server.errors import WebhookRefused
from tests.relay.conftest import REPO

SECRET = "whsec_unit_test_only"
BODY = b'{"id":"evt_1"}'
NOW = 1_800_000_000


def test_a_fresh_signature_is_accepted() -> None:
    verify_signature(SECRET, BODY, sign(SECRET, BODY, NOW), NOW + 10, 300)


def test_one_of_several_v1_signatures_may_match() -> None:
    good = sign(SECRET, BODY, NOW)
    header = f"t={NOW},v1={'0' * 64},{good.split(',')[1]}"
    verify_signature(SECRET, BODY, header, NOW, 300)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (sign("whsec_other", BODY, NOW), "does not match"),
        (sign(SECRET, BODY + b" ", NOW), "does not match"),
        (sign(SECRET, BODY, NOW - 301), "tolerance"),
        (sign(SECRET, BODY, NOW + 301), "tolerance"),
        (f"v1={'a' * 64}", "malformed"),
        (f"t={NOW}", "malformed"),
        ("", "malformed"),
        (f"t=x{NOW},v1=00", "malformed"),
    ],
)
def test_bad_or_stale_signatures_are_refused(header: str, why: str) -> None:
    with pytest.raises(WebhookRefused, match=why):
        verify_signature(SECRET, BODY, header, NOW, 300)


def test_a_signature_for_another_body_is_refused() -> None:
    header = sign(SECRET, b'{"id":"evt_2"}', NOW)
    with pytest.raises(WebhookRefused, match="does not match"):
        verify_signature(SECRET, BODY, header, NOW, 300)


def test_money_is_kept_exactly() -> None:
    # litellm's float prices: 0.1 + 0.2 style drift must not reach the ledger.
    assert to_nusd(6e-07) == 600
    assert to_nusd(2.5e-05) == 25_000
    assert sum(to_nusd(0.1) for _ in range(10)) == to_nusd(1.0)


def test_operator_cli_sets_a_budget_and_prints_a_statement(tmp_path: Path) -> None:
    def run(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "relay_server", *args, "--data-dir", str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        return json.loads(out)

    account = run("account", "acct-cli", "--budget-usd", "2.5", "--status", "past_due")
    assert (account["status"], account["cloud_budget_usd"]) == ("past_due", 2.5)
    statement = run("statement", "acct-cli", "--month", "2026-11")
    assert statement["lines"][0]["kind"] == "subscription"
    assert statement["totals"]["usage_usd"] == "0.000000000"
    assert statement["totals"]["cloud_budget_usd"] == "2.500000000"
