// Runs the browser crypto (assets/web/ora-crypto.js) under node for the Python interop tests:
// reads one JSON request on stdin, writes one JSON answer. Bytes travel as base64url.
"use strict";
const path = require("path");
const C = require(path.join(__dirname, "..", "..", "assets", "web", "ora-crypto.js"));
const P = require(path.join(__dirname, "..", "..", "assets", "web", "ora-pake.js"));
const d = (s) => C.b64uDecode(s);
const e = (b) => C.b64uEncode(b);
const text = new TextEncoder();
const untext = new TextDecoder();

function attempt(fn) {
  try { return { ok: e(fn()) }; } catch (err) { return { error: err.constructor.name, message: err.message }; }
}

const ops = {
  hs1: (r) => ({ hs1: e(new C.Initiator(d(r.device_secret), d(r.node_public), d(r.ephemeral)).start()) }),
  session: (r) => {
    const init = new C.Initiator(d(r.device_secret), d(r.node_public), d(r.ephemeral));
    init.start();
    let session;
    try { session = init.finish(d(r.hs2)); } catch (err) { return { handshake_error: err.constructor.name, message: err.message }; }
    const received = r.frames.map((f) => attempt(() => session.open(d(f))));
    const sent = r.send.map((m) => e(session.seal(text.encode(m))));
    return { received: received.map((x) => (x.ok !== undefined ? { ok: untext.decode(d(x.ok)) } : x)), sent };
  },
  pairing: (r) => {
    const invite = C.parseInvite(r.url);
    const sealed = C.sealRequest({
      nodePublicKey: invite.nodePublicKey, pairingId: invite.pairingId, secret: invite.secret,
      deviceSecretKey: d(r.device_secret), deviceName: r.name,
    });
    return {
      relay: invite.relayUrl, node_id: invite.nodeId, pairing_id: invite.pairingId,
      proof: C.relayProof(invite.secret), sealed: e(sealed),
    };
  },
  answer: (r) => {
    try {
      return { answer: C.openAnswer({ deviceSecretKey: d(r.device_secret), nodePublicKey: d(r.node_public), sealed: d(r.sealed), pairingId: r.pairing_id }) };
    } catch (err) { return { error: err.constructor.name, message: err.message }; }
  },
  frame: (r) => {
    const packed = C.packFrame(r.peer_id, d(r.payload));
    const un = C.unpackFrame(d(r.python_frame));
    return { packed: e(packed), peer_id: un.peerId, payload: e(un.payload) };
  },
  buckets: (r) => ({ buckets: r.sizes.map((n) => C.bucket(n)) }),
  // Open frames under a session with raw keys (no handshake), to test padding refusals.
  open_raw: (r) => {
    const session = new C.Session(new Uint8Array(32), d(r.recv_key));
    return { received: r.frames.map((f) => { const x = attempt(() => session.open(d(f))); return x.ok !== undefined ? { ok: x.ok } : x; }) };
  },
  seal_raw: (r) => {
    const session = new C.Session(d(r.send_key), new Uint8Array(32));
    return { sent: r.payloads.map((p) => e(session.seal(d(p)))) };
  },
  code: (r) => ({ pairing_id: C.codePairingId(r.code) }),
  // SPAKE2 with fixed randomness (one byte repeated), so a second run can finish the first.
  spake: (r) => {
    const side = r.side === "A" ? P.SIDE_A : P.SIDE_B;
    const s = new P.Spake2(side, d(r.pw), d(r.id_a), d(r.id_b), (n) => new Uint8Array(n).fill(r.seed));
    const message = e(s.start());
    return r.inbound ? { message, key: e(s.finish(d(r.inbound))) } : { message };
  },
  code_exchange: (r) => {
    const x = new P.CodeExchange(C.normalizeCode(r.code), (n) => new Uint8Array(n).fill(r.seed));
    if (!r.reply) return { message: e(x.message) };
    try {
      const inv = x.openReply(d(r.reply), C.codePairingId(r.code));
      return {
        node_id: inv.nodeId, node_pub: e(inv.nodePublicKey), secret: e(inv.secret),
        sas: P.verificationCode(inv.sasKey, inv.nodePublicKey, d(r.device_pub)),
      };
    } catch (err) { return { error: err.constructor.name, message: err.message }; }
  },
  bad_invite: (r) => { try { C.parseInvite(r.url); return { ok: true }; } catch (err) { return { error: err.constructor.name, message: err.message }; } },
};

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  process.stdout.write(JSON.stringify(ops[req.op](req)));
});
