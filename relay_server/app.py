"""The Relay's aiohttp application: the factory, the route table, the services' lifecycle.

Where things are: `relay.py` the shared services (`RELAY`), `http_common.py` the middlewares
(a raised `RelayError` becomes the counted, audited refusal and its JSON body),
`http_api.py` health, registration, pairing and tokens, `peers.py` the WebSocket (hello,
routing, control), `cloud_peers.py` Cloud workers and routing, `billing_api.py` the webhook and
statements, `metrics.py` Prometheus, `cluster.py` the Redis bus between instances.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from protocol import messages as m
from protocol.tokens import token_hash
from relay_server import backup_store
from relay_server import cluster as bus
from relay_server.billing import Billing
from relay_server.billing_api import billing_webhook, statement
from relay_server.cloud_peers import cloud_from_elsewhere, cloud_key
from relay_server.cluster import RedisCluster
from relay_server.code_pairing import pair_code
from relay_server.http_api import healthz, pair, readyz, refresh, register_node
from relay_server.http_common import refusals, security_headers
from relay_server.hub import Hub
from relay_server.metrics import METRICS, Metrics, serve_metrics
from relay_server.pairing_service import PairingService
from relay_server.peers import websocket
from relay_server.push import LocalClaims, PushSender, RedisClaims, Subscription, VapidKey
from relay_server.push_events import NOTIFIER, Notifier
from relay_server.push_events import add_routes as add_push_routes
from relay_server.rate_limit import AcceptRate, RateLimiter
from relay_server.relay import RELAY, Relay
from relay_server.revocation import Revocations
from relay_server.settings import RelaySettings
from relay_server.storage import PostgresStore, RelayStore, SqliteStore
from relay_server.token_service import TokenService
from relay_server.web_client import add_routes, cors


def create_app(settings: RelaySettings) -> web.Application:
    """The Relay application."""
    # security_headers is outermost, so refusals' answers carry the headers too; so does CORS
    # (the web client on its own origin reads a refusal's message).
    app = web.Application(
        middlewares=[security_headers, cors(settings.public_origins), refusals],
        client_max_size=64 * 1024,
    )
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_services(settings))
    app.cleanup_ctx.append(backup_store.storage_sampler(_ledger, settings.storage_sample_s))
    app.on_shutdown.append(_close_sockets)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_post("/v1/nodes", register_node)
    app.router.add_post("/v1/pair", pair)
    app.router.add_post("/v1/pair/code", pair_code)
    app.router.add_post("/v1/token/refresh", refresh)
    app.router.add_get("/v1/ws", websocket)
    app.router.add_get("/v1/cloud/key", cloud_key)
    app.router.add_post("/v1/billing/webhook", billing_webhook)
    add_push_routes(app)
    app.router.add_get("/v1/accounts/{account_id}/statement", statement)
    backup_store.setup(
        app,
        backup_store.BackupStore(settings.backup_root, settings.backup_quota_bytes),
        functools.partial(_node_account, app),
    )
    if settings.serve_client and settings.web_dir.is_dir():
        # make run's embedded Relay serves the web client; in production it has an origin of
        # its own (`ora-web`, relay_server/web_client.py) and this is off.
        add_routes(app, settings.web_dir, "/app/", ())
    return app


def _ledger(app: web.Application) -> backup_store.RecordStorage:
    return app[RELAY].billing.record_storage


async def _node_account(app: web.Application, token: str) -> str | None:
    """The account a Node credential belongs to (a Node's account id is its node id)."""
    found = await app[RELAY].store.node_by_credential(token_hash(token))
    return None if found is None else found.node_id


async def open_store(settings: RelaySettings) -> RelayStore:
    """PostgreSQL when a database URL is configured (several instances), else embedded SQLite."""
    if settings.database_url:
        return await PostgresStore.connect(settings.database_url)
    return SqliteStore(settings.db_path)


def _services(settings: RelaySettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def services(app: web.Application) -> AsyncIterator[None]:
        """The store, the cluster membership and the Relay's services, for the app's life."""
        store = await open_store(settings)
        cluster = (
            RedisCluster(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        )
        if cluster is not None:
            await cluster.start()
        hub = Hub(
            queue_bytes=max(settings.send_queue_bytes, settings.max_frame_bytes),
            total_bytes=settings.send_total_bytes,
            write_timeout_s=settings.write_timeout_s,
            in_rate=settings.peer_bytes_per_s,
            in_burst=settings.peer_burst_bytes,
        )
        revocations = Revocations(hub, cluster)
        await revocations.start()

        async def family_revoked(family_id: str) -> None:
            reason = "this device's tokens were used elsewhere and are revoked: pair it again"
            await revocations.family(family_id, m.Revoked(reason=reason))

        app[RELAY] = relay = Relay(
            settings=settings,
            store=store,
            tokens=TokenService(
                store, settings.access_ttl_s, settings.refresh_ttl_s, family_revoked
            ),
            billing=Billing(store, settings),
            pairings=PairingService(
                store,
                max_ttl_s=settings.pairing_max_ttl_s,
                max_attempts=settings.pairing_max_attempts,
                ip_per_minute=settings.ip_attempts_per_minute,
                max_keys=settings.rate_limit_max_keys,
            ),
            revocations=revocations,
            registrations=RateLimiter(
                settings.node_registrations_per_hour,
                3600.0,
                max_keys=settings.rate_limit_max_keys,
            ),
            hub=hub,
            metrics=app[METRICS],
            cluster=cluster,
            accepts=AcceptRate(settings.accept_per_s, settings.accept_burst),
        )
        app[METRICS].send_queue_bytes.set_function(lambda: relay.hub.budget.used)
        app[NOTIFIER] = relay.notifier = _notifier(relay)
        if cluster is not None:
            await cluster.subscribe(
                bus.cloud_channel(cluster.instance), cloud_from_elsewhere(relay)
            )
        yield
        await relay.notifier.close()
        if cluster is not None:
            await cluster.close()
        await store.close()

    return services


def _notifier(relay: Relay) -> Notifier:
    """Web Push: the VAPID key kept like the Relay's other secrets, claims shared in a cluster."""
    settings = relay.settings
    key = VapidKey.load_or_create(settings.vapid_path, settings.vapid_private_key)
    claims = (
        RedisClaims(settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else LocalClaims()
    )

    async def prune(sub: Subscription) -> None:
        await relay.store.remove_push(sub.device_id, sub.endpoint)
        await relay.store.audit("push_expired", device_id=sub.device_id)

    sender = PushSender(key, claims, prune, subject=settings.vapid_subject)
    sender.start()
    return Notifier(relay, sender)


async def _close_sockets(app: web.Application) -> None:
    """Open WebSockets would hold shutdown up; tell every peer to reconnect and close them."""
    relay = app[RELAY]
    peers = [*relay.hub.nodes.values(), *relay.hub.devices.values()]
    for conn in [*peers, *relay.cloud.workers.values()]:
        await conn.close(
            m.Error(code="relay_restarting", message="the Relay is restarting; reconnect"),
            code=1001,
        )
