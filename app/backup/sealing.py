"""Chunks and manifests as the service stores them: sealed, and useless without the phrase.

    chunk blob     = nonce(24) || XChaCha20-Poly1305(chunk key, nonce, AD = chunk id, data)
    chunk id       = hex(BLAKE2b-256(key = chunk-id key, data))
    manifest blob  = nonce(24) || XChaCha20-Poly1305(manifest key, nonce,
                                                     AD = "ora-manifest:" + seq, signed)
    signed         = Ed25519(signing key) over the manifest's JSON (nacl's signed message)

Opening a chunk checks the AEAD (under its id, so a chunk served under another id fails) and
then that the plaintext hashes to the id. Opening a manifest checks the AEAD under the
sequence number it was fetched as (so an old manifest served as a newer one fails), then the
signature, then that the sequence inside agrees.
"""

from __future__ import annotations

import json
import os
from typing import Any

import nacl.encoding
import nacl.hash
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import BadSignatureError, CryptoError

from app.backup.keys import BackupKeys

NONCE = 24


class BackupTampered(Exception):
    """What the service returned is not what this phrase sealed (the message says which)."""


class WrongPhrase(BackupTampered):
    """The phrase opens no snapshot of this backup."""


def chunk_id(keys: BackupKeys, data: bytes) -> str:
    return bytes(
        nacl.hash.blake2b(data, key=keys.chunk_id, digest_size=32, encoder=nacl.encoding.HexEncoder)
    ).decode()


def seal_chunk(keys: BackupKeys, data: bytes) -> tuple[str, bytes]:
    """(id, blob) for one chunk."""
    cid = chunk_id(keys, data)
    nonce = os.urandom(NONCE)
    return cid, nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        data, cid.encode(), nonce, keys.chunk
    )


def open_chunk(keys: BackupKeys, cid: str, blob: bytes) -> bytes:
    try:
        data = crypto_aead_xchacha20poly1305_ietf_decrypt(
            blob[NONCE:], cid.encode(), blob[:NONCE], keys.chunk
        )
    except (CryptoError, ValueError):
        raise BackupTampered(f"chunk {cid[:12]} was changed or swapped at the service") from None
    if chunk_id(keys, data) != cid:
        raise BackupTampered(f"chunk {cid[:12]} is not the chunk this backup stored")
    return bytes(data)


def _manifest_ad(seq: int) -> bytes:
    return f"ora-manifest:{seq}".encode()


def seal_manifest(keys: BackupKeys, manifest: dict[str, Any]) -> bytes:
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    signed = bytes(keys.signing.sign(body))
    nonce = os.urandom(NONCE)
    return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(
        signed, _manifest_ad(int(manifest["seq"])), nonce, keys.manifest
    )


def open_manifest(keys: BackupKeys, seq: int, blob: bytes) -> dict[str, Any]:
    """The manifest stored as number `seq`; BackupTampered (or WrongPhrase) if it is not."""
    try:
        signed = crypto_aead_xchacha20poly1305_ietf_decrypt(
            blob[NONCE:], _manifest_ad(seq), blob[:NONCE], keys.manifest
        )
    except (CryptoError, ValueError):
        raise BackupTampered(f"snapshot {seq} cannot be opened with this phrase") from None
    try:
        body = keys.signing.verify_key.verify(signed)
    except BadSignatureError:
        raise BackupTampered(f"snapshot {seq} is not signed by this backup's key") from None
    manifest: dict[str, Any] = json.loads(body)
    if manifest.get("seq") != seq:
        raise BackupTampered(f"snapshot {seq} claims to be snapshot {manifest.get('seq')}")
    return manifest
