"""The Node's long-lived identity: an X25519 key and its Relay credential, in the secret store."""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.store.secrets import SecretStore
from protocol.e2ee import generate_keypair, public_key_of
from protocol.encoding import b64u_decode, b64u_encode

_KEY = "ora.node-key"
_CREDENTIAL = "ora.relay-credential"


@dataclass
class NodeIdentity:
    """Private key (never leaves the PC), public key, and the Relay's id/credential for us."""

    private_key: bytes
    node_id: str = ""
    node_token: str = ""

    @property
    def public_key(self) -> bytes:
        """The key devices pin at pairing."""
        return public_key_of(self.private_key)

    @classmethod
    def load(cls, secrets: SecretStore) -> NodeIdentity:
        """Load, or create on first start."""
        raw = secrets.get(_KEY)
        if raw is None:
            private, _ = generate_keypair()
            secrets.set(_KEY, b64u_encode(private))
        else:
            private = b64u_decode(raw, length=32)
        identity = cls(private_key=private)
        cred = secrets.get(_CREDENTIAL)
        if cred:
            data = json.loads(cred)
            identity.node_id, identity.node_token = data["node_id"], data["node_token"]
        return identity

    def save_credential(self, secrets: SecretStore, node_id: str, node_token: str) -> None:
        """Remember what the Relay issued at registration."""
        self.node_id, self.node_token = node_id, node_token
        secrets.set(_CREDENTIAL, json.dumps({"node_id": node_id, "node_token": node_token}))

    def forget_credential(self, secrets: SecretStore) -> None:
        """The Relay no longer knows us (its data was reset): register again."""
        self.node_id = self.node_token = ""
        secrets.delete(_CREDENTIAL)
