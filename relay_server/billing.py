"""Accounts, subscriptions, the Cloud usage ledger, statements and the payment webhook.

One account per Node owner (its id is the Node's id); a device belongs to its Node's account.
The ledger's idempotency is the database's: a usage event's key is (account, request id), the
claim is an INSERT .. ON CONFLICT DO NOTHING, and billing only moves a claimed row to billed,
so a retried request, on any worker or Relay instance, is charged at most once.

Webhook signatures follow Stripe's scheme:

    Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>[,v1=...]

refused when no v1 matches (constant-time compare), when t is more than the tolerance away
from now (a replayed capture), or when the event id was seen before (a replay within it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from protocol import errors as codes
from relay_server.errors import (
    BadRequest,
    CloudNotAllowed,
    NoCloudBudget,
    RelayError,
    SubscriptionInactive,
    WebhookRefused,
)
from relay_server.rows import AccountRow
from relay_server.settings import RelaySettings
from relay_server.storage import NANO, RelayStore

_LOGGER = logging.getLogger(__name__)

ACTIVE = "active"
# Stripe subscription statuses -> ours. Unknown statuses are refused, not guessed.
_STATUS_MAP = {
    "active": "active",
    "trialing": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "incomplete": "past_due",
    "canceled": "cancelled",
    "incomplete_expired": "cancelled",
    "paused": "cancelled",
}
_INACTIVE_MESSAGE = {
    "past_due": "your ORA subscription is past due: update your payment method to use ORA remotely",
    "cancelled": "your ORA subscription is cancelled: subscribe again to use ORA remotely",
}


def month_of(ts: float) -> str:
    """The UTC month (YYYY-MM) a timestamp falls in."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m")


def to_nusd(usd: float) -> int:
    """US dollars (litellm's float prices) to integer nano-dollars."""
    return int(Decimal(repr(usd)) * NANO)


def to_usd(nusd: int) -> float:
    return nusd / NANO


@dataclass(frozen=True, kw_only=True)
class Grant:
    """The ledger's answer to a Cloud claim: when granted, `remaining_nusd` is what this request
    may spend (its reservation); when refused, the month's budget left."""

    granted: bool
    code: str = ""
    message: str = ""
    remaining_nusd: int = 0


class Billing:
    """The ledger's rules, over the Relay's store."""

    def __init__(self, store: RelayStore, settings: RelaySettings) -> None:
        self._store = store
        self._settings = settings

    def _stale_before(self) -> float:
        return time.time() - self._settings.cloud_claim_lease_s

    async def account(self, account_id: str) -> AccountRow:
        """The account, created if new: the configured plan and status, and no Cloud budget
        (a payment gives it one, see `webhook`)."""
        return await self._store.ensure_account(
            account_id, self._settings.plan_name, self._settings.new_account_status, 0
        )

    async def require_active(self, account_id: str) -> AccountRow:
        """The account, or SubscriptionInactive with what to do about it."""
        account = await self.account(account_id)
        if account.status != ACTIVE:
            raise SubscriptionInactive(
                _INACTIVE_MESSAGE.get(account.status, "your ORA subscription is not active")
            )
        return account

    async def claim(self, device_id: str, request_id: str) -> Grant:
        """May this device's request run? Claims the request id when it may."""
        device = await self._store.device(device_id)
        if device is None or device.revoked:
            return _refusal(CloudNotAllowed("this device is not paired any more"))
        node_id = device.node_id
        if device.role != "owner":
            return _refusal(
                CloudNotAllowed("only the owner's devices may send requests to the paid Cloud")
            )
        try:
            account = await self.require_active(node_id)
        except RelayError as err:
            return _refusal(err)
        if account.budget_nusd <= 0:
            return _refusal(
                NoCloudBudget(
                    "no Cloud budget: subscribe to ORA's plan to send requests to the Cloud"
                )
            )
        outcome, amount = await self._store.claim_usage(
            node_id,
            request_id,
            device_id,
            month_of(time.time()),
            account.budget_nusd,
            to_nusd(self._settings.cloud_reservation_usd),
            self._stale_before(),
        )
        if outcome == "duplicate":
            return Grant(
                granted=False,
                code=codes.DUPLICATE_REQUEST,
                message="this request was already sent to the Cloud; it is not run or billed again",
                remaining_nusd=amount,
            )
        if outcome == "exhausted":
            return Grant(
                granted=False,
                code=codes.BUDGET_EXHAUSTED,
                message="this month's Cloud budget is spent (or held by requests still running): "
                "raise it or wait for next month",
            )
        return Grant(granted=True, remaining_nusd=amount)

    async def record(
        self,
        device_id: str,
        request_id: str,
        *,
        model: str,
        tokens_in: int,
        tokens_out: int,
        cost_usd: float,
        outcome: str,
    ) -> tuple[bool, int]:
        """Bill a claimed request once: (charged now, the month's budget left after it)."""
        device = await self._store.device(device_id)
        if device is None:
            return False, 0
        charged = await self._store.bill_usage(
            device.node_id,
            request_id,
            model=model[:100],
            tokens_in=max(0, tokens_in),
            tokens_out=max(0, tokens_out),
            cost_nusd=max(0, to_nusd(cost_usd)),
            outcome=outcome[:40],
        )
        account = await self.account(device.node_id)
        held = await self._store.month_held(
            device.node_id, month_of(time.time()), self._stale_before()
        )
        return charged, max(0, account.budget_nusd - held)

    async def record_storage(self, account_id: str, size: int, now: float) -> bool:
        """The account's backup bytes for the hour `now` falls in (the hour's first sample)."""
        return await self._store.record_storage(
            account_id, int(now // 3600), month_of(now), max(0, size)
        )

    async def storage_line(self, account_id: str, month: str) -> dict[str, Any]:
        """Backup storage for the month: GB-months kept (hours sampled) at the price per GB-month.

        GB-months = sum over the month's hourly samples of bytes x 1 h / (10^9 x hours in the
        month). An hour with no sample (no Relay running) is not charged.
        """
        byte_hours, hours = await self._store.storage_month(account_id, month)
        denominator = 10**9 * _hours_in(month)
        price = to_nusd(self._settings.backup_price_usd_per_gb_month)
        return {
            "kind": "storage",
            "description": "encrypted backup storage",
            "gb_months": f"{Decimal(byte_hours) / denominator:.6f}",
            "hours_sampled": hours,
            "price_usd_per_gb_month": _usd_text(price),
            "amount_nusd": byte_hours * price // denominator,
        }

    async def statement(self, account_id: str, month: str) -> dict[str, Any]:
        """The month's statement: the subscription line, one line per usage event, backup
        storage, totals."""
        account = await self.account(account_id)
        plan_nusd = to_nusd(self._settings.plan_price_usd)
        lines: list[dict[str, Any]] = [
            {
                "kind": "subscription",
                "description": f"{account.plan} ({account.status})",
                "amount_usd": _usd_text(plan_nusd),
            }
        ]
        usage_total = 0
        for row in await self._store.usage_rows(account_id, month):
            usage_total += row.cost_nusd
            lines.append(
                {
                    "kind": "usage",
                    "request_id": row.request_id,
                    "device_id": row.device_id,
                    "at": row.billed_at or row.claimed_at,
                    "model": row.model or "",
                    "tokens_in": row.tokens_in or 0,
                    "tokens_out": row.tokens_out or 0,
                    "outcome": row.outcome or "in progress",
                    "amount_usd": _usd_text(row.cost_nusd),
                }
            )
        storage = await self.storage_line(account_id, month)
        storage_nusd = storage.pop("amount_nusd")
        if storage["hours_sampled"]:
            lines.append({**storage, "amount_usd": _usd_text(storage_nusd)})
        return {
            "account_id": account_id,
            "month": month,
            "plan": account.plan,
            "status": account.status,
            "lines": lines,
            "totals": {
                "subscription_usd": _usd_text(plan_nusd),
                "usage_usd": _usd_text(usage_total),
                "storage_usd": _usd_text(storage_nusd),
                "total_usd": _usd_text(plan_nusd + usage_total + storage_nusd),
                "cloud_budget_usd": _usd_text(account.budget_nusd),
            },
        }

    async def webhook(self, raw_body: bytes, signature_header: str, now: float) -> tuple[str, str]:
        """Verify and apply one payment-provider event; returns (account id, new status)."""
        secret = self._settings.webhook_secret
        if not secret:
            raise WebhookRefused("webhooks are not configured on this Relay")
        verify_signature(
            secret, raw_body, signature_header, now, self._settings.webhook_tolerance_s
        )
        try:
            event = json.loads(raw_body)
            event_id = event["id"]
            kind = event["type"]
            created = float(event["created"])
            subscription = event["data"]["object"]
            account_id = subscription["metadata"]["account_id"]
            provider_status = subscription["status"]
        except (ValueError, KeyError, TypeError):
            raise BadRequest("not a subscription event this Relay understands") from None
        if not all(isinstance(v, str) for v in (event_id, kind, account_id, provider_status)):
            raise BadRequest("not a subscription event this Relay understands")
        if not kind.startswith("customer.subscription."):
            raise BadRequest(f"unhandled event type {kind[:60]}")
        status = "cancelled" if kind.endswith(".deleted") else _STATUS_MAP.get(provider_status)
        if status is None:
            raise BadRequest(f"unknown subscription status {provider_status[:40]}")
        if not await self._store.remember_webhook_event(event_id):
            raise WebhookRefused("this event was already received (replay)")
        await self.account(account_id)
        # An older event delivered late must not undo a newer one.
        if not await self._store.set_account_status(account_id, status, created):
            _LOGGER.info("webhook event older than the account's state; not applied")
        current = await self.account(account_id)
        if current.status == ACTIVE and current.budget_nusd == 0:
            # The first payment activates the Cloud with the plan's budget. Later events leave
            # the budget alone (the operator may have changed it).
            await self._store.set_account_budget(
                account_id, to_nusd(self._settings.cloud_budget_usd)
            )
        return account_id, current.status


def sign(secret: str, raw_body: bytes, timestamp: int) -> str:
    """A Stripe-style signature header (the provider's side; used by tests and tools)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, raw_body: bytes, header: str, now: float, tolerance_s: int
) -> None:
    """Refuse a webhook whose signature does not match or whose timestamp is out of tolerance."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookRefused("missing or malformed Stripe-Signature header")
    expected = sign(secret, raw_body, timestamp).split("v1=", 1)[1]
    # Check every candidate so the time taken does not say which one came closest.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    if not matched:
        raise WebhookRefused("webhook signature does not match")
    if abs(now - timestamp) > tolerance_s:
        raise WebhookRefused("webhook timestamp outside the tolerance (replayed or clock skew)")


def _hours_in(month: str) -> int:
    """Hours in a YYYY-MM month (UTC)."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return int((end - start).total_seconds()) // 3600


def _refusal(err: RelayError) -> Grant:
    return Grant(granted=False, code=err.code, message=err.message)


def _usd_text(nusd: int) -> str:
    """Dollars with 9 decimals, exact (a string, so no float rounding on the way)."""
    return f"{(Decimal(nusd) / NANO).quantize(Decimal('0.000000001')):f}"
