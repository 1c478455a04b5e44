/*
 * ORA's browser-side crypto: the same constructions as protocol/e2ee.py and protocol/pairing.py,
 * built only from tweetnacl (X25519, crypto_box, secretbox, SHA-512). Tested against PyNaCl by
 * tests/web/test_interop.py. Nothing here is a new primitive.
 *
 * Session handshake (device = initiator I, Node = responder R):
 *   HS1  |0x01| e_I (32) |
 *   HS2  |0x02| e_R (32) | DATA frame, counter 0, empty payload (key confirmation) |
 *   es=X(e_I,S_R) ss=X(S_I,S_R) ee=X(e_I,e_R) se=X(S_I,e_R)
 *   h = SHA-512(LABEL || S_I || S_R || e_I || e_R);  k = SHA-512(LABEL || es || ss || ee || se || h)
 *   k[0:32] device->Node, k[32:64] Node->device
 *   DATA |0x03| counter (8, big-endian) | secretbox(padded, key, nonce = 16 zero bytes || counter) |
 *   padded = | payload length (4, big-endian) | payload | zeros up to bucket(4 + length) |
 *   bucket(n) = 256 when n <= 256, else Padmé (keep the top bits of n), capped at 1 MiB
 *   (protocol/e2ee.py explains; tests/web/test_interop.py checks both pad byte for byte).
 *   After HS2 the device sends CONFIRM (counter 0, empty payload) so the Node switches keys.
 *   RESYNC |0x04| (bare) from the Node: it holds no session for us; start a new handshake.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./vendor/nacl-fast.min.js"));
  } else {
    root.OraCrypto = factory(root.nacl);
  }
})(typeof self !== "undefined" ? self : this, function (nacl) {
  "use strict";

  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const LABEL = enc.encode("ORA-E2EE-KK-v1");
  const PROOF_LABEL = enc.encode("ORA-pair-relay-proof-v1");
  const CODE_ID_LABEL = enc.encode("ORA-pair-code-id-v2");
  const NAMEPLATE_LENGTH = 4; // protocol/pairing.py: only these reach the Relay (hashed)
  const CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
  const HS1 = 0x01, HS2 = 0x02, DATA = 0x03, RESYNC = 0x04, KEY = 32, MAC = 16, HEADER = 9;
  const MIN_BUCKET = 256, PAD_LIMIT = 1024 * 1024;
  const FRAME_ROUTED = 0x01;

  class CryptoError extends Error {}
  class ReplayError extends CryptoError {}
  class HandshakeError extends CryptoError {}
  class PairingError extends CryptoError {}
  class CloudKeyError extends CryptoError {}

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function b64uEncode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64uDecode(text, length) {
    if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new PairingError("not base64url");
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (length !== undefined && out.length !== length) throw new PairingError(`expected ${length} bytes`);
    return out;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // X25519 that refuses low-order points, as libsodium does (tweetnacl does not check).
  function dh(secretKey, publicKey) {
    const shared = nacl.scalarMult(secretKey, publicKey);
    if (shared.every((b) => b === 0)) throw new HandshakeError("invalid public key");
    return shared;
  }

  function nonceFor(counter) {
    const nonce = new Uint8Array(24);
    new DataView(nonce.buffer).setBigUint64(16, BigInt(counter), false);
    return nonce;
  }

  // Padded size for n bytes (length prefix included): 256 at least, then Padmé, as e2ee.bucket.
  function bucket(n) {
    if (n <= MIN_BUCKET) return MIN_BUCKET;
    const exponent = 31 - Math.clz32(n); // floor(log2 n); frames stay far below 2^32
    const mask = 2 ** (exponent - (32 - Math.clz32(exponent))) - 1;
    const rounded = Math.ceil(n / (mask + 1)) * (mask + 1);
    return Math.max(n, Math.min(rounded, PAD_LIMIT));
  }

  function pad(payload) {
    const out = new Uint8Array(bucket(4 + payload.length));
    new DataView(out.buffer).setUint32(0, payload.length, false);
    out.set(payload, 4);
    return out;
  }

  function unpad(padded) {
    if (padded.length < 4) throw new CryptoError("frame too short for its length field");
    const length = new DataView(padded.buffer, padded.byteOffset, padded.length).getUint32(0, false);
    const end = 4 + length;
    if (end > padded.length || padded.length !== bucket(end) || padded.subarray(end).some((b) => b !== 0)) {
      throw new CryptoError("frame padding is malformed");
    }
    return padded.slice(4, end);
  }

  class Session {
    constructor(sendKey, recvKey) {
      this.sendKey = sendKey;
      this.recvKey = recvKey;
      this.sendCounter = 0;
      this.recvCounter = 0;
    }

    seal(payload) {
      const counter = this.sendCounter++;
      const header = new Uint8Array(HEADER);
      header[0] = DATA;
      new DataView(header.buffer).setBigUint64(1, BigInt(counter), false);
      return concat(header, nacl.secretbox(pad(payload), nonceFor(counter), this.sendKey));
    }

    open(frame) {
      if (frame.length < HEADER + MAC) throw new CryptoError("frame too short");
      if (frame[0] !== DATA) throw new CryptoError("unexpected frame kind");
      const counter = Number(new DataView(frame.buffer, frame.byteOffset, frame.length).getBigUint64(1, false));
      if (counter !== this.recvCounter) {
        throw new ReplayError(`frame counter ${counter}, expected ${this.recvCounter}`);
      }
      const padded = nacl.secretbox.open(frame.subarray(HEADER), nonceFor(counter), this.recvKey);
      if (padded === null) throw new CryptoError("frame failed authentication");
      const payload = unpad(padded);
      this.recvCounter = counter + 1; // only an authentic frame advances the counter
      return payload;
    }
  }

  class Initiator {
    // ephemeralSecret is for interop tests only; leave it out to get a fresh key.
    constructor(staticSecret, responderPublic, ephemeralSecret) {
      this.s = staticSecret;
      this.sPub = nacl.scalarMult.base(staticSecret);
      this.rs = responderPublic;
      const eph = ephemeralSecret ? nacl.box.keyPair.fromSecretKey(ephemeralSecret) : nacl.box.keyPair();
      this.e = eph.secretKey;
      this.ePub = eph.publicKey;
      this.done = false;
    }

    start() {
      return concat(Uint8Array.of(HS1), this.ePub);
    }

    finish(hs2) {
      if (this.done) throw new HandshakeError("handshake already finished");
      if (hs2.length < 1 + KEY + HEADER + MAC || hs2[0] !== HS2) throw new HandshakeError("malformed handshake reply");
      this.done = true;
      const eR = hs2.subarray(1, 1 + KEY);
      const h = nacl.hash(concat(LABEL, this.sPub, this.rs, this.ePub, eR));
      const okm = nacl.hash(concat(LABEL, dh(this.e, this.rs), dh(this.s, this.rs), dh(this.e, eR), dh(this.s, eR), h));
      const session = new Session(okm.slice(0, KEY), okm.slice(KEY, 2 * KEY));
      let confirm;
      try {
        confirm = session.open(hs2.subarray(1 + KEY));
      } catch (err) {
        throw new HandshakeError("the Node could not prove its identity: wrong key or a tampered connection");
      }
      if (confirm.length !== 0) throw new HandshakeError("handshake confirmation carries data");
      return session;
    }
  }

  function parseInvite(url) {
    const hash = new URL(url).hash.replace(/^#/, "");
    const f = new URLSearchParams(hash);
    if (f.get("v") !== "1") throw new PairingError("this pairing link is from another ORA version: update ORA");
    for (const k of ["r", "n", "p", "s", "k"]) {
      if (!f.get(k)) throw new PairingError(`the pairing link is incomplete (no '${k}')`);
    }
    const relay = new URL(f.get("r"));
    if (!["http:", "https:", "ws:", "wss:"].includes(relay.protocol)) {
      throw new PairingError("the pairing link names no valid Relay address");
    }
    return {
      relayUrl: f.get("r"),
      nodeId: f.get("n"),
      pairingId: f.get("p"),
      secret: b64uDecode(f.get("s"), 32),
      nodePublicKey: b64uDecode(f.get("k"), 32),
    };
  }

  function relayProof(secret) {
    return hex(nacl.hash(concat(PROOF_LABEL, secret)).subarray(0, 32));
  }

  function sealRequest({ nodePublicKey, pairingId, secret, deviceSecretKey, deviceName }) {
    const eph = nacl.box.keyPair();
    const body = enc.encode(JSON.stringify({
      device_pub: b64uEncode(nacl.scalarMult.base(deviceSecretKey)),
      name: deviceName,
      pairing_id: pairingId,
      secret: b64uEncode(secret),
    }));
    const nonce = nacl.randomBytes(24);
    return concat(eph.publicKey, nonce, nacl.box(body, nonce, nodePublicKey, eph.secretKey));
  }

  function openAnswer({ deviceSecretKey, nodePublicKey, sealed, pairingId }) {
    if (sealed.length < 24 + MAC || sealed.length > 4096) throw new PairingError("pairing answer has an impossible size");
    const plain = nacl.box.open(sealed.subarray(24), sealed.subarray(0, 24), nodePublicKey, deviceSecretKey);
    if (plain === null) throw new PairingError("the answer did not come from the Node in the QR code: pairing refused");
    const answer = JSON.parse(dec.decode(plain));
    if (answer.pairing_id !== pairingId) throw new PairingError("the answer belongs to another pairing");
    return answer;
  }

  function normalizeCode(typed) {
    const code = typed.toUpperCase().replace(/[^0-9A-Z]/g, "");
    if (code.length !== 10 || [...code].some((c) => !CODE_ALPHABET.includes(c))) {
      throw new PairingError("a pairing code has 10 letters and digits, like 7KQ2M-XH9PD");
    }
    return code;
  }

  function codePairingId(typed) {
    const nameplate = enc.encode(normalizeCode(typed).slice(0, NAMEPLATE_LENGTH));
    return b64uEncode(nacl.hash(concat(CODE_ID_LABEL, nameplate)).subarray(0, 12));
  }

  // The Cloud's key counts only when ORA's release key signed it (protocol/cloud_key.py has the
  // construction); `releaseKey` is the 32-byte Ed25519 key from the bundle's release-key.json.
  function verifyCloudKey(statement, releaseKey, nowSeconds) {
    if (!statement || typeof statement.payload !== "string" || typeof statement.signature !== "string") {
      throw new CloudKeyError("the Relay sent the Cloud's key without ORA's signature");
    }
    let signature;
    try { signature = Uint8Array.from(atob(statement.signature), (c) => c.charCodeAt(0)); } catch (err) { signature = new Uint8Array(0); }
    const signed = concat(enc.encode("ora-cloud-key/1\n"), enc.encode(statement.payload));
    if (signature.length !== 64 || releaseKey.length !== 32 || !nacl.sign.detached.verify(signed, signature, releaseKey)) {
      throw new CloudKeyError("the Cloud's key is not signed by ORA's release key");
    }
    const claim = JSON.parse(statement.payload);
    if (claim.kind !== "ora-cloud-key" || !Number.isInteger(claim.not_after)) throw new CloudKeyError("the signed statement is not about the Cloud's key");
    if (claim.not_after < nowSeconds) throw new CloudKeyError("the Cloud's signed key has expired: update ORA");
    return b64uDecode(claim.public_key, 32);
  }

  function releaseKeyFrom(text) {
    const raw = Uint8Array.from(atob(JSON.parse(text).ed25519_public), (c) => c.charCodeAt(0));
    if (raw.length !== 32) throw new CloudKeyError("release-key.json does not hold an Ed25519 key");
    return raw;
  }

  function uuidBytes(id) {
    const h = id.replace(/-/g, "");
    if (!/^[0-9a-f]{32}$/i.test(h)) throw new CryptoError("not a UUID");
    return Uint8Array.from(h.match(/../g), (x) => parseInt(x, 16));
  }

  function uuidString(bytes) {
    const h = hex(bytes);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function packFrame(peerId, payload) {
    return concat(Uint8Array.of(FRAME_ROUTED), uuidBytes(peerId), payload);
  }

  function unpackFrame(frame) {
    if (frame.length < 17 || frame[0] !== FRAME_ROUTED) throw new CryptoError("malformed routing frame");
    return { peerId: uuidString(frame.subarray(1, 17)), payload: frame.subarray(17) };
  }

  return {
    CryptoError, ReplayError, HandshakeError, PairingError, CloudKeyError, verifyCloudKey, releaseKeyFrom,
    Initiator, Session, HS1, HS2, DATA, RESYNC, bucket,
    parseInvite, relayProof, sealRequest, openAnswer, normalizeCode, codePairingId,
    packFrame, unpackFrame, b64uEncode, b64uDecode,
    generateKeyPair: () => nacl.box.keyPair(),
    publicKeyOf: (secretKey) => nacl.scalarMult.base(secretKey),
  };
});
