"""The installed client's service worker shows a push in the user's language, with the Node's
sealed text only when it opens with the device's key and belongs to that very push (Chromium;
pushes delivered through the DevTools protocol, as a push service would)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey
from playwright.async_api import expect

from protocol.notify import seal_text
from tests.web.conftest import PHONE
from tests.web.test_signed_client import Site, key, site  # noqa: F401

pytestmark = pytest.mark.slow


async def installed_with_push(
    browser: Any,
    site: Site,  # noqa: F811
    locale: str,
) -> tuple[Any, Any, Any, str]:
    context = await browser.new_context(**PHONE, locale=locale)
    origin = site.url.rstrip("/")
    await context.grant_permissions(["notifications"], origin=origin)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda ev: registrations.extend(r["registrationId"] for r in ev["registrations"]),
    )
    await cdp.send("ServiceWorker.enable")
    await page.goto(site.url)
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    await expect(page.locator("#release-line")).to_be_visible(timeout=10000)
    assert registrations
    return context, page, cdp, registrations[-1]


async def pair_as(page: Any, device: PrivateKey, node: PrivateKey) -> None:
    """The device's keys as client.js keeps them after pairing (IndexedDB)."""
    await page.evaluate(
        """([sk, pk]) => new Promise((done, fail) => {
            const open = indexedDB.open("ora", 1);
            open.onupgradeneeded = () => open.result.createObjectStore("state");
            open.onsuccess = () => {
                const tx = open.result.transaction("state", "readwrite");
                tx.objectStore("state").put({ relayOrigin: "http://127.0.0.1:1",
                    deviceSecretKey: new Uint8Array(sk), nodePublicKey: new Uint8Array(pk) }, "device");
                tx.oncomplete = () => done(true);
                tx.onerror = () => fail(tx.error);
            };
        })""",
        [list(bytes(device)), list(bytes(node.public_key))],
    )


async def notifications(page: Any, count: int) -> list[list[str]]:
    for _ in range(100):
        shown: list[list[str]] = await page.evaluate(
            """() => navigator.serviceWorker.ready.then((r) => r.getNotifications())
                .then((ns) => ns.map((n) => [n.title, n.body, n.data.url, n.tag]))"""
        )
        if len(shown) >= count:
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} notifications shown")


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        ("en-US", "Approval needed", "Delete a file — asked from Desktop"),
        ("ja-JP", "承認が必要です", "ファイルを削除する（依頼元: Desktop）"),
    ],
)
async def test_a_push_shows_the_nodes_sealed_text_in_the_users_language(
    browser: Any,
    site: Site,  # noqa: F811
    key: SigningKey,  # noqa: F811
    locale: str,
    title: str,
    body: str,
) -> None:
    site.publish("1.0.0", key)
    context, page, cdp, registration = await installed_with_push(browser, site, locale)
    device, node = PrivateKey.generate(), PrivateKey.generate()
    await pair_as(page, device, node)
    ids = {"approval_id": "a-17"}
    sealed = seal_text(
        bytes(node),
        bytes(device.public_key),
        kind="approval_waiting",
        event_id="ev-1",
        ids=ids,
        fields={"tool": "files_delete", "device": "Desktop"},
    )
    push = {"v": 1, "kind": "approval_waiting", "event": "ev-1", "ids": ids, "sealed": sealed}
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site.url.rstrip("/"), "registrationId": registration, "data": json.dumps(push)},
    )
    [shown] = await notifications(page, 1)
    assert shown[0] == title and body in shown[1]
    assert shown[2] == site.url + "?approval=a-17" and shown[3] == "ev-1"
    await context.close()


@pytest.mark.parametrize("attack", ["moved", "other_node", "garbage"])
async def test_a_sealed_text_that_is_not_the_nodes_for_this_push_is_not_shown(
    browser: Any,
    site: Site,  # noqa: F811
    key: SigningKey,  # noqa: F811
    attack: str,
) -> None:
    site.publish("1.0.0", key)
    context, page, cdp, registration = await installed_with_push(browser, site, "en-US")
    device, node = PrivateKey.generate(), PrivateKey.generate()
    await pair_as(page, device, node)
    sealer = PrivateKey.generate() if attack == "other_node" else node
    sealed = seal_text(
        bytes(sealer),
        bytes(device.public_key),
        kind="approval_waiting",
        event_id="ev-old",
        ids={"approval_id": "a-1"},
        fields={"tool": "shell", "device": "Relay says hi"},
    )
    if attack == "garbage":
        sealed = "AAAA" + sealed[4:]
    # The Relay replays it on a push for another approval (or forges it).
    event = "ev-new" if attack == "moved" else "ev-old"
    approval = "a-2" if attack == "moved" else "a-1"
    push = {
        "v": 1,
        "kind": "approval_waiting",
        "event": event,
        "ids": {"approval_id": approval},
        "sealed": sealed,
    }
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site.url.rstrip("/"), "registrationId": registration, "data": json.dumps(push)},
    )
    [shown] = await notifications(page, 1)
    assert shown[0] == "Approval needed"
    assert shown[1] == "ORA on your PC is waiting for your answer."
    assert "shell" not in shown[1] and "Relay" not in shown[1]
    await context.close()


async def test_content_free_kinds_follow_a_language_switched_in_the_app(
    browser: Any,
    site: Site,  # noqa: F811
    key: SigningKey,  # noqa: F811
) -> None:
    site.publish("1.0.0", key)
    context, page, cdp, registration = await installed_with_push(browser, site, "en-US")
    await page.click("#lang")  # English -> 日本語, remembered by the worker too
    await expect(page.locator("#lang")).to_have_text("English")
    await asyncio.sleep(0.5)
    for i, kind in enumerate(["node_offline", "budget_low"]):
        push = {"v": 1, "kind": kind, "event": f"ev-{i}", "ids": {"node_id": "n"}}
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": site.url.rstrip("/"),
                "registrationId": registration,
                "data": json.dumps(push),
            },
        )
    shown = await notifications(page, 2)
    assert {s[0] for s in shown} == {"PC がオフラインです", "クラウドの予算が残りわずかです"}
    await context.close()
