"""A device written in Python, doing what the web client does: pair, connect, handshake, chat."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from protocol import app_messages as am
from protocol import cloud, cloud_key, code_pairing, e2ee, pairing
from protocol import messages as m
from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import CryptoError
from protocol.version import PROTOCOL_VERSION
from tests.support.release import TEST_RELEASE_PUBLIC


class RelayRefused(Exception):
    """The Relay answered with an error (code, message)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.code = body.get("error", "")
        self.message = body.get("message", "")


@dataclass
class Device:
    relay_url: str
    name: str = "test phone"
    private_key: bytes = field(default_factory=lambda: e2ee.generate_keypair()[0])
    device_id: str = ""
    node_id: str = ""
    node_public_key: bytes = b""
    access_token: str = ""
    refresh_token: str = ""
    ws: aiohttp.ClientWebSocketResponse | None = None
    session: e2ee.Session | None = None
    inbox: asyncio.Queue[m.Message] = field(default_factory=asyncio.Queue)
    control: asyncio.Queue[m.Message] = field(default_factory=asyncio.Queue)
    http: aiohttp.ClientSession | None = None
    _reader: asyncio.Task[None] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # The Cloud, when the user chooses it: its pinned key, session and messages.
    cloud_public_key: bytes = b""
    release_key: bytes = TEST_RELEASE_PUBLIC  # what the test suite's bundle pins
    cloud_session: e2ee.Session | None = None
    cloud_inbox: asyncio.Queue[m.Message] = field(default_factory=asyncio.Queue)
    # Every frame that arrived as the Cloud's, as received, so attack tests can look for forgeries.
    cloud_frames: list[bytes] = field(default_factory=list)
    last_done_at: float = 0.0
    # Chats the far end acknowledged, and its "I refused your frame" notices (None: bare).
    received: list[str] = field(default_factory=list)
    resyncs: list[am.Resync | None] = field(default_factory=list)
    refused: list[CryptoError] = field(default_factory=list)  # frames from the Node we refused

    async def _http(self) -> aiohttp.ClientSession:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        return self.http

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        http = await self._http()
        async with http.post(f"{self.relay_url}{path}", json=body, headers=self.headers) as resp:
            data = await resp.json()
            if resp.status != 200:
                raise RelayRefused(resp.status, data)
            return data

    async def pair(
        self, url: str, *, proof: str | None = None, secret: bytes | None = None
    ) -> dict[str, Any]:
        invite = pairing.PairingInvite.from_url(url)
        sealed = pairing.seal_request(
            node_public_key=invite.node_public_key,
            pairing_id=invite.pairing_id,
            secret=secret or invite.secret,
            device_private_key=self.private_key,
            device_name=self.name,
        )
        body = await self.post(
            "/v1/pair",
            {
                "pairing_id": invite.pairing_id,
                "proof": proof or pairing.relay_proof(invite.secret),
                "sealed": b64u_encode(sealed),
            },
        )
        answer = pairing.open_answer(
            device_private_key=self.private_key,
            node_public_key=invite.node_public_key,
            sealed=b64u_decode(body["answer"]),
            pairing_id=invite.pairing_id,
        )
        assert answer["device_id"] == body["device_id"]
        self.device_id, self.node_id = body["device_id"], body["node_id"]
        self.node_public_key = invite.node_public_key
        self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]
        return body

    async def code_exchange(self, code: str) -> code_pairing.CodeInvite:
        """Typed code, step 1: SPAKE2 with the Node through the Relay; PairingError if wrong."""
        pairing_id = pairing.code_pairing_id(code)
        exchange = code_pairing.DeviceExchange(code)
        body = await self.post(
            "/v1/pair/code", {"pairing_id": pairing_id, "pake": b64u_encode(exchange.message)}
        )
        return exchange.open_reply(b64u_decode(body["reply"]), pairing_id)

    async def pair_with_code(self, code: str) -> tuple[str, dict[str, Any]]:
        """Typed-code pairing: the verification code this device shows, and the Relay's answer."""
        invite = await self.code_exchange(code)
        sas = code_pairing.verification_code(
            invite.sas_key, invite.node_public_key, e2ee.public_key_of(self.private_key)
        )
        url = pairing.PairingInvite(
            relay_url=self.relay_url,
            node_id=invite.node_id,
            pairing_id=invite.pairing_id,
            secret=invite.secret,
            node_public_key=invite.node_public_key,
        ).to_url(f"{self.relay_url}/app/")
        return sas, await self.pair(url)

    async def refresh(self) -> None:
        body = await self.post("/v1/token/refresh", {"refresh_token": self.refresh_token})
        self.access_token, self.refresh_token = body["access_token"], body["refresh_token"]

    async def renew(self) -> None:
        """What the web client does before its token expires: refresh, then renew in band."""
        await self.refresh()
        assert self.ws is not None
        await self.ws.send_str(m.encode(m.Renew(token=self.access_token)))

    async def connect(self, *, handshake: bool = True, expect_welcome: bool = True) -> m.Message:
        """Open the WebSocket; returns the Relay's answer to Hello (Welcome or Error)."""
        http = await self._http()
        self.ws = await http.ws_connect(f"{self.relay_url}/v1/ws", headers=self.headers)
        await self.ws.send_str(
            m.encode(
                m.Hello(version=PROTOCOL_VERSION, role=m.PeerKind.DEVICE, token=self.access_token)
            )
        )
        first = await self.ws.receive(timeout=10)
        reply = m.decode(first.data)
        if isinstance(reply, m.Welcome):
            self._reader = asyncio.create_task(self._read())
            if handshake:
                await self.handshake()
        elif expect_welcome:
            raise AssertionError(f"the Relay did not welcome this device: {reply}")
        return reply

    async def handshake(self) -> None:
        self._initiator = e2ee.Initiator(self.private_key, self.node_public_key)
        self._hs = asyncio.get_running_loop().create_future()
        await self.send_raw(self._initiator.start())
        await asyncio.wait_for(self._hs, 10)
        info = await self.next_app(10)
        assert isinstance(info, am.NodeInfo)

    async def send_raw(self, payload: bytes, to: str | None = None) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(m.pack_frame(to or self.node_id, payload))

    async def send(self, msg: m.Message) -> bytes:
        assert self.session is not None
        frame = self.session.seal(m.encode(msg).encode())
        await self.send_raw(frame)
        return frame

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                _kind, peer, payload = m.unpack_frame(msg.data)
                if peer == cloud.CLOUD_PEER_ID:
                    self.cloud_frames.append(payload)
                    await self._from_cloud(payload)
                elif (
                    payload[:1] == bytes([e2ee.HS2])
                    and hasattr(self, "_hs")
                    and not self._hs.done()
                ):
                    # Finish here: the Node's first sealed message follows right behind HS2.
                    try:
                        self.session = self._initiator.finish(payload)
                        # CONFIRM: prove we hold the new keys, so the Node switches to them.
                        await self.send_raw(self.session.seal(b""))
                        self._hs.set_result(None)
                    except Exception as err:
                        self._hs.set_exception(err)
                elif self.session is not None and payload[:1] == bytes([e2ee.DATA]):
                    try:
                        self._deliver(m.decode(self.session.open(payload)), self.inbox)
                    except CryptoError as err:
                        self.refused.append(err)
                elif payload[:1] == bytes([e2ee.RESYNC]):
                    self.resyncs.append(None)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await self.control.put(m.decode(msg.data))

    async def wait_closed(self, timeout: float = 10) -> float:
        """Wait until the Relay ends this socket; returns how long that took (seconds)."""
        assert self._reader is not None
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return time.perf_counter() - started

    async def next_app(self, timeout: float = 10) -> m.Message:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def next_control(self, timeout: float = 10, kind: type | None = None) -> m.Message:
        while True:
            msg = await asyncio.wait_for(self.control.get(), timeout)
            if kind is None or isinstance(msg, kind):
                return msg

    async def chat(self, text: str, timeout: float = 20) -> tuple[list[str], str, list[m.Message]]:
        """Send a chat; collect deltas until done. Returns (deltas, final text, everything else)."""
        msg_id = str(uuid.uuid4())
        await self.send(am.Chat(id=msg_id, text=text))
        deltas: list[str] = []
        other: list[m.Message] = []
        while True:
            msg = await self.next_app(timeout)
            if isinstance(msg, am.Delta) and msg.id == msg_id:
                deltas.append(msg.text)
            elif isinstance(msg, am.Done) and msg.id == msg_id:
                return deltas, msg.text, other
            else:
                other.append(msg)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()

    # -- Cloud --------------------------------------------------------------------------------

    async def pin_cloud_key(self) -> bytes:
        """The Cloud's public key, believed only when ORA's release key signed it (the web
        client does the same with its bundle's release-key.json); CloudKeyRefused if not."""
        if not self.cloud_public_key:
            http = await self._http()
            async with http.get(f"{self.relay_url}/v1/cloud/key") as resp:
                body = await resp.json()
                if resp.status != 200:
                    raise RelayRefused(resp.status, body)
            self.cloud_public_key = cloud_key.verify(body.get("statement"), self.release_key)
        return self.cloud_public_key

    async def cloud_handshake(self, timeout: float = 10) -> cloud.CloudInfo:
        """Start an end-to-end session with the Cloud; returns its CloudInfo."""
        key = await self.pin_cloud_key()
        self._cloud_initiator, hs1 = cloud.initiate(self.private_key, key)
        self._cloud_hs = asyncio.get_running_loop().create_future()
        await self.send_raw(hs1, to=cloud.CLOUD_PEER_ID)
        await asyncio.wait_for(self._cloud_hs, timeout)
        info = await self.next_cloud(timeout)
        assert isinstance(info, cloud.CloudInfo)
        return info

    async def _from_cloud(self, payload: bytes) -> None:
        if (
            payload[:1] == bytes([e2ee.HS2])
            and hasattr(self, "_cloud_hs")
            and not self._cloud_hs.done()
        ):
            try:
                self.cloud_session = self._cloud_initiator.finish(payload)
                await self.send_raw(self.cloud_session.seal(b""), to=cloud.CLOUD_PEER_ID)
                self._cloud_hs.set_result(None)
            except Exception as err:
                self._cloud_hs.set_exception(err)
        elif self.cloud_session is not None and payload[:1] == bytes([e2ee.DATA]):
            self._deliver(m.decode(self.cloud_session.open(payload)), self.cloud_inbox)

    def _deliver(self, msg: m.Message, inbox: asyncio.Queue[m.Message]) -> None:
        """Session bookkeeping (acks, resyncs) is noted apart; the rest goes to the inbox."""
        if isinstance(msg, am.Received):
            self.received.append(msg.id)
        elif isinstance(msg, am.Resync):
            self.resyncs.append(msg)
        else:
            inbox.put_nowait(msg)

    async def next_cloud(self, timeout: float = 10) -> m.Message:
        return await asyncio.wait_for(self.cloud_inbox.get(), timeout)

    async def cloud_send(self, msg: m.Message) -> None:
        assert self.cloud_session is not None
        await self.send_raw(self.cloud_session.seal(m.encode(msg).encode()), to=cloud.CLOUD_PEER_ID)

    async def cloud_chat(
        self, text: str, *, request_id: str | None = None, timeout: float = 20
    ) -> tuple[list[str], str, list[m.Message]]:
        """Send a request to the Cloud; collect deltas until done, then its receipt:
        (deltas, text, the rest)."""
        msg_id = request_id or str(uuid.uuid4())
        await self.cloud_send(am.Chat(id=msg_id, text=text))
        deltas: list[str] = []
        other: list[m.Message] = []
        while True:
            msg = await self.next_cloud(timeout)
            if isinstance(msg, am.Delta) and msg.id == msg_id:
                deltas.append(msg.text)
            elif isinstance(msg, am.Done) and msg.id == msg_id:
                self.last_done_at = time.perf_counter()
                receipt = await self.next_cloud(timeout)  # every request's receipt follows `done`
                assert isinstance(receipt, cloud.CloudReceipt) and receipt.id == msg_id, receipt
                return deltas, msg.text, [*other, receipt]
            else:
                other.append(msg)
