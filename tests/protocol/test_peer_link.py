"""The responder core's session rules, one at a time, with real sessions and no socket: what
goes out is read back from the core's ordered send queue."""

import asyncio
import uuid

import aiohttp

from protocol import app_messages as am
from protocol import e2ee
from protocol import messages as m
from protocol.peer_link import Backoff, PeerRefused, ResponderLink

DEVICE = str(uuid.uuid4())


class Hooks:
    """A responder that knows one device key and records what the core hands it."""

    def __init__(self, node_private: bytes, device_public: bytes) -> None:
        self.node_private, self.device_public = node_private, device_public
        self.opened: list[str] = []
        self.messages: list[m.Message] = []

    def ws_url(self) -> str:
        return "ws://127.0.0.1:9/v1/ws"

    def hello(self) -> m.Hello:
        return m.Hello(version="1.0.0", role=m.PeerKind.NODE, token="t")

    async def before_connect(self, http: aiohttp.ClientSession) -> None:
        pass

    def refused(self, err: PeerRefused) -> bool:
        return True

    def connect_failed(self, err: BaseException) -> None:
        pass

    def accept(self, peer_id: str, hs1: bytes) -> tuple[bytes, e2ee.Session] | None:
        return e2ee.respond(self.node_private, self.device_public, hs1)

    def session_opened(self, peer_id: str) -> None:
        self.opened.append(peer_id)

    def message(self, peer_id: str, msg: m.Message) -> None:
        self.messages.append(msg)

    def control(self, msg: m.Message) -> None:
        pass

    def disconnected(self) -> None:
        pass


class Rig:
    def __init__(self) -> None:
        self.dev, dev_pub = e2ee.generate_keypair()
        node, self.node_pub = e2ee.generate_keypair()
        self.hooks = Hooks(node, dev_pub)
        self.core = ResponderLink(self.hooks, backoff=Backoff(0.1, 1.0))
        self.out: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.core._out = self.out  # connected, as far as sending goes

    def frame(self, payload: bytes) -> None:
        self.core._on_frame(m.pack_frame(DEVICE, payload))

    def sent(self) -> list[bytes]:
        items = []
        while not self.out.empty():
            item = self.out.get_nowait()
            assert isinstance(item, bytes)
            items.append(m.unpack_frame(item)[2])
        return items

    def handshake(self) -> tuple[bytes, e2ee.Session]:
        init = e2ee.Initiator(self.dev, self.node_pub)
        hs1 = init.start()
        self.frame(hs1)
        (hs2,) = self.sent()
        session = init.finish(hs2)
        self.frame(session.seal(b""))  # CONFIRM
        return hs1, session


async def test_a_replayed_handshake_start_leaves_the_live_session_alone() -> None:
    rig = Rig()
    hs1, live = rig.handshake()
    assert rig.hooks.opened == [DEVICE]
    rig.frame(hs1)  # the Relay replays it: the core answers, but only with a pending session
    rig.frame(hs1)
    replies = rig.sent()
    assert len(replies) == 2 and all(r[0] == e2ee.HS2 for r in replies)
    rig.frame(live.seal(m.encode(am.Chat(id="c1", text="still me")).encode()))
    assert [type(x) for x in rig.hooks.messages] == [am.Chat]
    (ack,) = rig.sent()
    assert m.decode(live.open(ack)) == am.Received(id="c1")  # answered on the live session
    assert rig.hooks.opened == [DEVICE]  # no new session was confirmed


async def test_a_new_session_replaces_the_old_only_when_confirmed() -> None:
    rig = Rig()
    _, old = rig.handshake()
    init = e2ee.Initiator(rig.dev, rig.node_pub)
    rig.frame(init.start())
    (hs2,) = rig.sent()
    new = init.finish(hs2)
    assert rig.core.seal_to(DEVICE, am.Delta(id="x", text="old keys still"))
    assert m.decode(old.open(rig.sent()[0])) == am.Delta(id="x", text="old keys still")
    rig.frame(new.seal(b""))  # CONFIRM under the new keys
    assert rig.hooks.opened == [DEVICE, DEVICE]
    rig.core.seal_to(DEVICE, am.Delta(id="x", text="new keys"))
    assert m.decode(new.open(rig.sent()[0])) == am.Delta(id="x", text="new keys")


async def test_a_dropped_frame_is_reported_inside_the_session() -> None:
    rig = Rig()
    _, live = rig.handshake()
    live.seal(b"dropped by the Relay")
    rig.frame(live.seal(m.encode(am.Chat(id="c2", text="next")).encode()))
    (notice,) = rig.sent()
    resync = m.decode(live.open(notice))
    assert isinstance(resync, am.Resync) and resync.expected == 1
    assert rig.hooks.messages == []


async def test_a_replaying_relay_gets_one_refusal_not_one_per_replay() -> None:
    """A Relay that sends the same frame again and again (or replays every refusal, so that
    each end refuses the other's refusal): the PC says so once, not once per copy."""
    rig = Rig()
    _, live = rig.handshake()
    frame = live.seal(m.encode(am.Chat(id="c1", text="once")).encode())
    rig.frame(frame)
    (receipt,) = rig.sent()
    assert isinstance(m.decode(live.open(receipt)), am.Received)
    for _ in range(50):
        rig.frame(frame)
    (notice,) = rig.sent()
    assert isinstance(m.decode(live.open(notice)), am.Resync)
    assert [type(x) for x in rig.hooks.messages] == [am.Chat]  # ran once


async def test_a_frame_without_any_session_gets_a_bare_resync() -> None:
    rig = Rig()
    stray = e2ee.Session(bytes(32), bytes(32)).seal(b"hello?")
    rig.frame(stray)
    assert rig.sent() == [e2ee.resync_frame()]


async def test_frames_leave_in_the_order_they_were_sealed() -> None:
    rig = Rig()
    _, live = rig.handshake()
    for i in range(50):
        rig.core.seal_to(DEVICE, am.Delta(id="x", text=str(i)))
    texts = [m.decode(live.open(f)) for f in rig.sent()]
    assert [t.text for t in texts if isinstance(t, am.Delta)] == [str(i) for i in range(50)]


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(first=1.0, cap=8.0)
    steps = [1.0, 2.0, 4.0, 8.0, 8.0]
    for step in steps:
        delay = backoff.next_delay()
        assert 0.5 * step <= delay < 1.5 * step
    backoff.reset()
    assert backoff.next_delay() < 1.5
    backoff.hold()
    assert backoff.next_delay() >= 4.0
    assert len({Backoff(1.0, 8.0).next_delay() for _ in range(20)}) > 1  # jittered
