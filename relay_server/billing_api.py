"""Billing endpoints: the payment provider's webhook and an account's monthly statement.

The rules (plans, budgets, claims) are `relay_server.billing`; these handlers only check who
asks and answer. Refusals are raised and answered by `http_common.refusals`.
"""

from __future__ import annotations

import time

from aiohttp import web

from protocol import errors as codes
from protocol import messages as m
from protocol.tokens import token_hash
from relay_server.billing import month_of
from relay_server.errors import BadRequest, RelayError, Unauthorized
from relay_server.http_common import REFUSAL_NODE
from relay_server.relay import RELAY, Relay


async def billing_webhook(request: web.Request) -> web.Response:
    """The payment provider's signed subscription events."""
    relay = request.app[RELAY]
    raw = await request.read()
    try:
        account_id, status = await relay.billing.webhook(
            raw, request.headers.get("Stripe-Signature", ""), time.time()
        )
    except RelayError:
        relay.metrics.webhooks.labels("refused").inc()
        raise
    relay.metrics.webhooks.labels("applied").inc()
    await relay.store.audit("subscription", node_id=account_id, detail=status)
    if status != "active":
        # Remote access stops now, on every instance, not at the devices' next reconnect.
        await relay.revocations.account(
            account_id,
            m.Error(
                code=codes.SUBSCRIPTION_INACTIVE,
                message=f"your ORA subscription is {status.replace('_', ' ')}: "
                "renew it to use ORA remotely",
            ),
        )
    return web.json_response({"received": True, "account_id": account_id, "status": status})


async def statement(request: web.Request) -> web.Response:
    """An account's monthly statement, for its owner (an owner device's token or the Node's)."""
    relay = request.app[RELAY]
    account_id = request.match_info["account_id"]
    request[REFUSAL_NODE] = account_id
    month = request.query.get("month") or month_of(time.time())
    if (
        len(month) != 7
        or month[4] != "-"
        or not (month[:4] + month[5:]).isdigit()
        or not 1 <= int(month[5:]) <= 12
    ):
        raise BadRequest("month must be YYYY-MM")
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not await _is_owner(relay, account_id, token):
        raise Unauthorized("only the account's owner may read its statement")
    return web.json_response(await relay.billing.statement(account_id, month))


async def _is_owner(relay: Relay, account_id: str, token: str) -> bool:
    """The Node's credential, or the access token of one of the account's owner devices."""
    if token.startswith("ora_nd_"):
        found = await relay.store.node_by_credential(token_hash(token))
        return found is not None and found.node_id == account_id
    device_id = await relay.tokens.authenticate(token)
    device = await relay.store.device(device_id)
    return device is not None and device.node_id == account_id and device.role == "owner"
