"""Per-frame cost of the E2EE session (seal + open) beside raw PyNaCl secretbox on the same data.

The session adds a 9-byte header, a counter check, nonce building and padding to size buckets
(protocol.e2ee.bucket) around the same libsodium calls (crypto_secretbox_easy / _open_easy,
which the baseline uses too, on the unpadded payload); the ratio shows what that costs in time.
`padding_bytes_ratio_*` is what padding costs on the wire: the session's frame size over the
unpadded frame's (header + MAC + payload), for a streamed reply piece (80 B), a chat (1 KB),
and large payloads. Last line: one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nacl.bindings as sodium

from protocol import e2ee

ROUNDS = 7


def interleaved_us(
    a: Callable[[int], None], b: Callable[[int], None], frames: int
) -> tuple[float, float]:
    """Median microseconds per frame of a and b, timed in alternating rounds.

    Alternating keeps both under the same allocator and cache state; timing one after the
    other made whichever ran first look up to 1.8x slower at 64 KB on this machine.
    """
    samples_a: list[float] = []
    samples_b: list[float] = []
    for _ in range(ROUNDS):
        for fn, samples in ((a, samples_a), (b, samples_b)):
            t0 = time.perf_counter()
            fn(frames)
            samples.append((time.perf_counter() - t0) / frames * 1e6)
    return statistics.median(samples_a), statistics.median(samples_b)


def measure(size: int, frames: int) -> tuple[float, float]:
    payload = os.urandom(size)
    dev, dev_pub = e2ee.generate_keypair()
    node, node_pub = e2ee.generate_keypair()

    def session_loop(n: int) -> None:
        init = e2ee.Initiator(dev, node_pub)
        hs2, receiver = e2ee.respond(node, dev_pub, init.start())
        sender = init.finish(hs2)
        for _ in range(n):
            receiver.open(sender.seal(payload))

    key = os.urandom(32)

    def raw_loop(n: int) -> None:
        for i in range(n):
            nonce = bytes(16) + i.to_bytes(8, "big")
            box = sodium.crypto_secretbox_easy(payload, nonce, key)
            sodium.crypto_secretbox_open_easy(box, nonce, key)

    session_loop(100)
    raw_loop(100)
    return interleaved_us(session_loop, raw_loop, frames)


def main() -> None:
    result: dict[str, float] = {}
    for label, size, frames in (
        ("80b", 80, 20000),
        ("256b", 256, 20000),
        ("64kb", 64 * 1024, 2000),
    ):
        ours, raw = measure(size, frames)
        result[f"session_us_{label}"] = round(ours, 3)
        result[f"raw_pynacl_us_{label}"] = round(raw, 3)
        result[f"overhead_ratio_{label}"] = round(ours / raw, 3)
        print(
            f"{label}: session {ours:.2f} us/frame, raw PyNaCl {raw:.2f} us/frame, ratio {ours / raw:.2f}"
        )
    for label, size in (("80b", 80), ("1kb", 1000), ("64kb", 64 * 1024), ("1mb", 1000 * 1000)):
        padded = e2ee.bucket(4 + size) + e2ee.DATA_OVERHEAD
        result[f"padding_bytes_ratio_{label}"] = round(padded / (size + e2ee.DATA_OVERHEAD), 3)
    summary = {
        "overhead_ratio_256b": result["overhead_ratio_256b"],
        "overhead_ratio_64kb": result["overhead_ratio_64kb"],
        **result,
        "target_ratio": 1.5,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
