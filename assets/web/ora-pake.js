/*
 * SPAKE2 over Ed25519 as python `spake2` 0.9 (magic-wormhole's) computes it, so a browser and the
 * Node agree on a key from a typed code; the curve and hash arithmetic is the vendored
 * @noble/curves + @noble/hashes bundle (vendor/noble-spake2.min.js). Nothing here is a new
 * primitive; tests/web/test_interop.py checks it against python spake2 both ways.
 *
 *   w = HKDF-SHA256(pw, salt "", info "SPAKE2 pw", 48 bytes) as a big-endian integer mod L
 *   M, N = python spake2's fixed points (HKDF-derived from seeds "M", "N"; constants below)
 *   A: x random (64 bytes big-endian mod L), X* = x·G + w·M, sends "A" || X*
 *   B: y random,                             Y* = y·G + w·N, sends "B" || Y*
 *   A: K = x·(Y* - w·N)      B: K = y·(X* - w·M)      (inbound points must lie in the L subgroup)
 *   key = SHA256(SHA256(pw) || SHA256(idA) || SHA256(idB) || X* || Y* || K)
 *
 * and on it the device's side of ORA's typed-code pairing (protocol/code_pairing.py has the
 * construction and why a lying Relay gets one guess per attempt): `CodeExchange`.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory(require("./vendor/noble-spake2.min.js"), require("./vendor/nacl-fast.min.js"));
  } else {
    root.OraPake = factory(root.OraNoble, root.nacl);
  }
})(typeof self !== "undefined" ? self : this, function (noble, nacl) {
  "use strict";

  const enc = new TextEncoder();
  const Point = noble.ed25519.Point;
  const L = Point.Fn.ORDER;
  const M_HEX = "15cfd18e385952982b6a8f8c7854963b58e34388c8e6dae891db756481a02312";
  const N_HEX = "f04f2e7eb734b2a8f8b472eaf9c3c632576ac64aea650b496a8a20ff00e583c3";
  const SIDE_A = 0x41, SIDE_B = 0x42;

  class PakeError extends Error {}

  function fromHex(h) { return Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16)); }
  const M = Point.fromBytes(fromHex(M_HEX));
  const N = Point.fromBytes(fromHex(N_HEX));

  function bigEndian(bytes) {
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    return n;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function passwordScalar(pw) {
    return bigEndian(noble.hkdf(noble.sha256, pw, new Uint8Array(0), enc.encode("SPAKE2 pw"), 48)) % L;
  }

  function randomScalar(entropy) {
    const bytes = entropy ? entropy(64) : crypto.getRandomValues(new Uint8Array(64));
    const s = bigEndian(bytes) % L;
    if (s === 0n) throw new PakeError("no randomness");
    return s;
  }

  // multiply() refuses 0; w·P with w = 0 is the identity, which add() treats as a no-op.
  function times(point, scalar) { return scalar === 0n ? Point.ZERO : point.multiply(scalar); }

  /** One side of an asymmetric SPAKE2 exchange (A = the device, B = the Node). */
  class Spake2 {
    constructor(side, pw, idA, idB, entropy) {
      this.side = side; this.pw = pw; this.idA = idA; this.idB = idB;
      this.w = passwordScalar(pw);
      this.x = randomScalar(entropy);
      const blind = side === SIDE_A ? M : N;
      this.outbound = Point.BASE.multiply(this.x).add(times(blind, this.w)).toBytes();
      this.started = false; this.finished = false;
    }

    start() {
      if (this.started) throw new PakeError("start() can only be called once");
      this.started = true;
      return concat(Uint8Array.of(this.side), this.outbound);
    }

    finish(inbound) {
      if (this.finished) throw new PakeError("finish() can only be called once");
      this.finished = true;
      const other = this.side === SIDE_A ? SIDE_B : SIDE_A;
      if (inbound.length !== 33 || inbound[0] !== other) throw new PakeError("message from the wrong side");
      const msg = inbound.subarray(1);
      let elem;
      try { elem = Point.fromBytes(msg); } catch (err) { throw new PakeError("not a curve point"); }
      if (elem.is0() || !elem.isTorsionFree()) throw new PakeError("point outside the group");
      if (elem.equals(Point.fromBytes(this.outbound))) throw new PakeError("reflected message");
      const unblind = this.side === SIDE_A ? N : M;
      const K = times(elem.subtract(times(unblind, this.w)), this.x).toBytes();
      const [X, Y] = this.side === SIDE_A ? [this.outbound, msg] : [msg, this.outbound];
      const h = noble.sha256;
      return h(concat(h(this.pw), h(this.idA), h(this.idB), X, Y, K));
    }
  }

  // -- ORA's typed-code pairing, device side (protocol/code_pairing.py) -------------------------
  const ID_DEVICE = enc.encode("ORA-pair-device");
  const ID_NODE = enc.encode("ORA-pair-node");
  const PW_LABEL = "ORA-pair-code-v2:";
  const KEY_LABEL = enc.encode("ORA-pair-code-key-v2");
  const SAS_LABEL = enc.encode("ORA-pair-sas-v2");
  const dec = new TextDecoder();

  /** Thrown when the Node's reply does not open: the code was wrong, or the Relay meddled. */
  class WrongCode extends PakeError {}

  function b64u(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function unb64u(text, length) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new PakeError("not base64url");
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (out.length !== length) throw new PakeError(`expected ${length} bytes`);
    return out;
  }

  /** One attempt: send `message`, then `openReply` the Node's answer. `code` is normalized. */
  class CodeExchange {
    constructor(code, entropy) {
      this.spake = new Spake2(SIDE_A, enc.encode(PW_LABEL + code), ID_DEVICE, ID_NODE, entropy);
      this.message = this.spake.start();
    }

    openReply(reply, pairingId) {
      if (reply.length < 33 + 24 + 16 || reply.length > 2048) throw new WrongCode("impossible reply size");
      let plain = null, sasKey;
      try {
        const k = nacl.hash(concat(KEY_LABEL, this.spake.finish(reply.subarray(0, 33))));
        sasKey = k.slice(32);
        plain = nacl.secretbox.open(reply.subarray(57), reply.subarray(33, 57), k.subarray(0, 32));
      } catch (err) { throw new WrongCode(err.message); }
      if (plain === null) throw new WrongCode("the reply does not open with this code");
      const obj = JSON.parse(dec.decode(plain));
      if (obj.pairing_id !== pairingId || typeof obj.node_id !== "string") throw new PakeError("the answer belongs to another pairing");
      return {
        pairingId, nodeId: obj.node_id, sasKey,
        nodePublicKey: unb64u(obj.node_pub, 32), secret: unb64u(obj.secret, 32),
      };
    }
  }

  /** The six digits both screens show, from the SPAKE2 key and both static keys. */
  function verificationCode(sasKey, nodePublicKey, devicePublicKey) {
    const digest = nacl.hash(concat(SAS_LABEL, sasKey, nodePublicKey, devicePublicKey));
    const n = Number(new DataView(digest.buffer).getBigUint64(0, false) % 1000000n);
    return `${String(Math.floor(n / 1000)).padStart(3, "0")} ${String(n % 1000).padStart(3, "0")}`;
  }

  return { Spake2, PakeError, WrongCode, CodeExchange, verificationCode, SIDE_A, SIDE_B, b64u };
});
