"""ora-web serves the client's files and nothing else, each with the strict CSP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relay_server.web_client import WebSettings, create_web_app


async def test_serves_only_the_bundle_with_its_csp(tmp_path: Path, aiohttp_client: Any) -> None:
    web_dir = tmp_path / "web"
    (web_dir / ".git").mkdir(parents=True)
    (web_dir / "index.html").write_text("<p>ORA</p>")
    (web_dir / "client.js").write_text("1")
    (web_dir / ".git" / "config").write_text("secret")
    (web_dir / ".env").write_text("secret")
    (tmp_path / "outside.txt").write_text("secret")
    app = create_web_app(WebSettings(web_dir=web_dir, relays=("https://relay.example",)))
    client = await aiohttp_client(app)
    resp = await client.get("/")
    assert resp.status == 200 and await resp.text() == "<p>ORA</p>"
    policy = resp.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://relay.example wss://relay.example;" in policy
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert (await (await client.get("/config.json")).json()) == {
        "relays": ["https://relay.example"]
    }
    for path in ("/.git/config", "/.env", "/../outside.txt", "/%2e%2e/outside.txt", "/nope.js"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert "secret" not in await resp.text()
