"""The backup key: a recovery phrase the owner keeps, and every key derived from it.

    phrase        12 BIP-39 English words (128 bits of entropy + checksum), `mnemonic` package
    master        the phrase's 16 bytes of entropy
    subkey(P)     BLAKE2b-256(key = master, personal = P)   (libsodium's generichash as a KDF)

    P                 used for
    ora-bk-chunkid    chunk ids: keyed BLAKE2b of the plaintext, so the service cannot confirm
                      a guess of a chunk's content from its id
    ora-bk-chunk      sealing chunks: XChaCha20-Poly1305, random 24-byte nonce, the id as AD
    ora-bk-manifest   sealing snapshot manifests (same AEAD, AD = "manifest" + sequence)
    ora-bk-sign       Ed25519 seed: manifests are signed before they are sealed
    ora-bk-vault      the vault's id at the service (hex), known to the service
    ora-bk-token      the vault's credential at the service (it stores only its SHA-256)

A typo in the phrase fails the BIP-39 checksum (`PhraseInvalid`); a well-formed phrase of
another backup derives keys that open nothing there (`WrongPhrase`, raised by the reader).
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

import nacl.encoding
import nacl.hash
from mnemonic import Mnemonic
from nacl.signing import SigningKey

_WORDS = Mnemonic("english")


class PhraseInvalid(ValueError):
    """The words are not a recovery phrase (unknown word, wrong count or checksum)."""


def new_phrase() -> str:
    """A fresh recovery phrase (12 words)."""
    return str(_WORDS.generate(strength=128))


def normalise(phrase: str) -> str:
    """Lower case, single spaces; the words as the owner wrote them."""
    return " ".join(phrase.lower().split())


def check_words(phrase: str, positions: dict[int, str]) -> bool:
    """Did the owner write it down? `positions` maps 1-based word numbers to what they typed."""
    words = normalise(phrase).split()
    return all(
        0 < n <= len(words) and words[n - 1] == normalise(typed) for n, typed in positions.items()
    )


def _subkey(master: bytes, personal: bytes) -> bytes:
    return bytes(
        nacl.hash.blake2b(
            b"", key=master, person=personal, digest_size=32, encoder=nacl.encoding.RawEncoder
        )
    )


@dataclass(frozen=True)
class BackupKeys:
    """Everything derived from one recovery phrase."""

    chunk_id: bytes
    chunk: bytes
    manifest: bytes
    signing: SigningKey
    vault_id: str
    vault_token: str

    @classmethod
    def from_master(cls, master: bytes) -> BackupKeys:
        if len(master) != 16:
            raise PhraseInvalid("a backup key is 16 bytes")
        return cls(
            chunk_id=_subkey(master, b"ora-bk-chunkid"),
            chunk=_subkey(master, b"ora-bk-chunk"),
            manifest=_subkey(master, b"ora-bk-manifest"),
            signing=SigningKey(_subkey(master, b"ora-bk-sign")),
            vault_id=_subkey(master, b"ora-bk-vault").hex(),
            vault_token=_subkey(master, b"ora-bk-token").hex(),
        )

    @property
    def vault_token_hash(self) -> str:
        return sha256(self.vault_token.encode()).hexdigest()


def master_from_phrase(phrase: str) -> bytes:
    """The 16 bytes a phrase stands for; PhraseInvalid if it is not one."""
    words = normalise(phrase)
    if len(words.split()) != 12 or not _WORDS.check(words):
        raise PhraseInvalid(
            "that is not the recovery phrase: check each of the 12 words (a word is misspelt "
            "or missing)"
        )
    return bytes(_WORDS.to_entropy(words))


def keys_from_phrase(phrase: str) -> BackupKeys:
    """The keys of the backup this phrase opens."""
    return BackupKeys.from_master(master_from_phrase(phrase))
