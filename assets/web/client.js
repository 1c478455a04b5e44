/*
 * The ORA web client: pair from the QR link, then chat with your own PC end to end encrypted.
 *
 * Rules it keeps:
 * - tokens and keys only ever go to the Relay that served this page (its own origin); a link
 *   naming another Relay is refused before anything is sent;
 * - the pairing link's fragment is read once and removed from the address bar;
 * - keys and tokens live in IndexedDB, never in a URL, a cookie or a log;
 * - the Node's identity is checked by the handshake on every connection;
 * - the paid Cloud is used only when the owner chooses it, after being told plainly that the
 *   Cloud reads what it runs; when the PC is offline it is offered, never used silently. The
 *   Cloud's key is pinned on first use and its session is end to end like the Node's.
 */
(function () {
  "use strict";
  const C = self.OraCrypto;
  const I = self.OraI18n;
  const t = I.t;
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  // Generated from protocol/ (scripts/gen_web_constants.py): never typed twice.
  const { PROTOCOL_VERSION, CLOUD_PEER_ID, ERROR_CODES: E } = self.OraProtocol;

  // -- persistence (IndexedDB) ----------------------------------------------------------------
  const DB_NAME = "ora", STORE = "state", KEY = "device";
  function idb(mode, fn) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore(STORE);
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const tx = open.result.transaction(STORE, mode);
        const req = fn(tx.objectStore(STORE));
        tx.oncomplete = () => { open.result.close(); resolve(req && req.result); };
        tx.onerror = () => reject(tx.error);
      };
    });
  }
  const load = () => idb("readonly", (s) => s.get(KEY));
  const save = (state) => idb("readwrite", (s) => s.put(state, KEY));
  const forget = () => idb("readwrite", (s) => s.delete(KEY));

  // -- state ------------------------------------------------------------------------------------
  let state = null; // {relayOrigin, deviceSecretKey, deviceId, nodeId, nodePublicKey, accessToken, refreshToken, expiresAt, nodeName, role}
  let ws = null, session = null, initiator = null, backoff = 500, refreshTimer = null, reconnectTimer = null;
  let relayRefusedUs = false; // the Relay said "revoked" or "update": no reconnect loop
  const pendingReplies = new Map();
  // The Cloud: chosen explicitly (target "cloud"), with its own session and a send queue that
  // waits for the handshake.
  let target = "pc", cloudSession = null, cloudInitiator = null, pendingAsk = null;
  const cloudQueue = [];
  const approvals = new Map();

  function status(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.classList.toggle("error", Boolean(isError));
  }

  function show(view) {
    $("welcome").classList.toggle("hidden", view !== "welcome");
    $("chat").classList.toggle("hidden", view !== "chat");
    $("devices").classList.toggle("hidden", view !== "devices");
    $("composer").classList.toggle("hidden", view !== "chat");
    $("tabs").classList.toggle("hidden", view === "welcome");
    $("tab-chat").classList.toggle("active", view === "chat");
    $("tab-devices").classList.toggle("active", view === "devices");
    $("tab-devices").classList.toggle("hidden", !state || state.role !== "owner");
    $("target").classList.toggle("hidden", !state || state.role !== "owner"); // guests: no Cloud
  }

  function setOnline(online) {
    $("dot").className = "dot " + (online ? "online" : "offline");
    $("node-name").textContent = state ? `${state.nodeName || "ORA"} · ${online ? t("online") : t("offline")}` : t("notPaired");
  }

  // -- which Relay ------------------------------------------------------------------------------
  // Served by the Relay itself (/app/), the Relay is this page's own origin. Served from an
  // origin of its own (`ora-web`), the page's server names its Relays in config.json (and the
  // CSP lets the page reach only those). Once paired, only the paired Relay is ever used.
  let relays = [location.origin];
  let relayOrigin = location.origin;

  async function loadRelays() {
    try {
      const resp = await fetch("config.json", { credentials: "omit", cache: "no-store" });
      const config = resp.ok ? await resp.json() : {};
      if (Array.isArray(config.relays) && config.relays.length) relays = config.relays.map((r) => new URL(r).origin);
    } catch (err) { /* no config: the Relay is this page's origin */ }
    relayOrigin = relays[0];
  }

  // -- HTTP to the Relay -------------------------------------------------------------------------
  async function post(path, body) {
    const resp = await fetch(relayOrigin + path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { const err = new Error(data.message || resp.statusText); err.code = data.error; throw err; }
    return data;
  }

  // -- pairing ----------------------------------------------------------------------------------
  async function pairFromFragment() {
    const url = location.href;
    history.replaceState(null, "", location.pathname); // the secret leaves the address bar now
    let invite;
    try { invite = C.parseInvite(url); } catch (err) { status(t("pairFailed") + err.message, true); return false; }
    if (!relays.includes(new URL(invite.relayUrl).origin)) { status(t("otherRelay"), true); return false; }
    relayOrigin = new URL(invite.relayUrl).origin;
    if (!plainRelayAllowed(relayOrigin, HOME_CHOSEN)) return false;
    status(t("pairing"));
    return completePairing(invite, C.generateKeyPair());
  }

  // No camera: the typed code authenticates the PC's key through SPAKE2 (assets/web/ora-pake.js,
  // protocol/code_pairing.py); only the code's first characters reach the Relay.
  async function pairWithCode(typed) {
    let code, pairingId;
    if (!plainRelayAllowed(relayOrigin, HOME_CHOSEN)) return false;
    try { code = C.normalizeCode(typed); pairingId = C.codePairingId(code); } catch (err) { status(t("codeInvalid"), true); return false; }
    status(t("pairing"));
    let found;
    try {
      const exchange = new OraPake.CodeExchange(code);
      const body = await post("/v1/pair/code", { pairing_id: pairingId, pake: C.b64uEncode(exchange.message) });
      found = exchange.openReply(C.b64uDecode(body.reply), pairingId);
    } catch (err) {
      status(codeRefusal(err), true);
      return false;
    }
    const keys = C.generateKeyPair();
    const sas = $("sas");
    sas.replaceChildren(document.createTextNode(t("compareCode")));
    const strong = document.createElement("strong");
    strong.textContent = OraPake.verificationCode(found.sasKey, found.nodePublicKey, keys.publicKey);
    sas.appendChild(strong);
    sas.classList.remove("hidden");
    status("");
    const invite = { relayUrl: relayOrigin, nodeId: found.nodeId, pairingId, secret: found.secret, nodePublicKey: found.nodePublicKey };
    const ok = await completePairing(invite, keys);
    sas.classList.add("hidden");
    return ok;
  }

  function codeRefusal(err) {
    if (err instanceof OraPake.WrongCode) return t("codeWrong");
    if (err.code === "pairing_locked") return t("codeLocked");
    if (err.code === "pairing_refused" || err.code === "not_found") return t("codeUnknown");
    return t("pairFailed") + err.message;
  }

  async function completePairing(invite, keys) {
    const sealed = C.sealRequest({
      nodePublicKey: invite.nodePublicKey, pairingId: invite.pairingId, secret: invite.secret,
      deviceSecretKey: keys.secretKey, deviceName: deviceName(),
    });
    try {
      const body = await post("/v1/pair", { pairing_id: invite.pairingId, proof: C.relayProof(invite.secret), sealed: C.b64uEncode(sealed) });
      const answer = C.openAnswer({
        deviceSecretKey: keys.secretKey, nodePublicKey: invite.nodePublicKey,
        sealed: C.b64uDecode(body.answer), pairingId: invite.pairingId,
      });
      if (answer.device_id !== body.device_id) throw new Error("the Relay and your PC disagree about this device");
      state = {
        relayOrigin, deviceSecretKey: keys.secretKey, deviceId: body.device_id, nodeId: body.node_id,
        nodePublicKey: invite.nodePublicKey, accessToken: body.access_token, refreshToken: body.refresh_token,
        expiresAt: Date.now() + body.expires_in * 1000, ttl: body.expires_in * 1000,
        nodeName: answer.node_name || "ORA", role: answer.role, homeNetwork: HOME_CHOSEN,
      };
      await save(state);
      status(t("paired"));
      showPairedWelcome();
      return true;
    } catch (err) {
      status(t("pairFailed") + err.message, true);
      return false;
    }
  }

  function deviceName() {
    const ua = navigator.userAgent;
    // In the user's language; the PC numbers a second one ("Android phone 2"), the owner renames.
    if (/iPhone/.test(ua)) return "iPhone";
    if (/Android/.test(ua)) return t("devAndroid");
    if (/Mac/.test(ua)) return "Mac";
    if (/Windows/.test(ua)) return "Windows PC";
    return t("devBrowser");
  }

  // -- tokens -----------------------------------------------------------------------------------
  async function refreshTokens() {
    try {
      const body = await post("/v1/token/refresh", { refresh_token: state.refreshToken });
      state.accessToken = body.access_token;
      state.refreshToken = body.refresh_token;
      state.expiresAt = Date.now() + body.expires_in * 1000;
      state.ttl = body.expires_in * 1000;
      await save(state);
      scheduleRefresh();
      renewInBand();
      return true;
    } catch (err) {
      if ([E.REVOKED, E.REFRESH_REUSED, E.UNAUTHORIZED].includes(err.code)) relaySaysRevoked(err.message);
      return false;
    }
  }

  // The open socket is ended by the Relay when the token it opened with expires: hand it the
  // new one, so a refresh does not cost a reconnect and a new handshake.
  function renewInBand() {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "renew", token: state.accessToken }));
  }

  // How long before expiry a token is renewed: a minute, or a third of a short lifetime.
  function margin() {
    return Math.min(60000, (state.ttl || 900000) / 3);
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    // Renew before expiry, so an idle tab never meets an expired token.
    const wait = Math.max(1000, state.expiresAt - Date.now() - margin());
    refreshTimer = setTimeout(refreshTokens, Math.min(wait, 2 ** 31 - 1));
  }

  async function revokedHere() {
    clearTimeout(refreshTimer);
    clearTimeout(reconnectTimer);
    state = null;
    await forget();
    await dropOutbox();
    if (ws) { ws.onclose = null; ws.close(); }
    setOnline(false);
    show("welcome");
    status(t("revoked"), true);
  }

  // -- connection -------------------------------------------------------------------------------
  function connect() {
    if (!state) return;
    if (state.expiresAt - Date.now() < margin()) {
      refreshTokens().then((ok) => { if (ok) connect(); else scheduleReconnect(); });
      return;
    }
    if (!plainRelayAllowed(relayOrigin, state.homeNetwork || HOME_CHOSEN)) return;
    status(t("connecting"));
    session = null;
    ws = new WebSocket(relayOrigin.replace(/^http/, "ws") + "/v1/ws");
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", version: PROTOCOL_VERSION, role: "device", token: state.accessToken, app_version: "" }));
    ws.onmessage = (ev) => (typeof ev.data === "string" ? onControl(JSON.parse(ev.data)) : onFrame(new Uint8Array(ev.data)));
    ws.onclose = () => { setOnline(false); session = null; cloudSession = null; cloudInitiator = null; connectionLost(); scheduleReconnect(); };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    if (!state || relayRefusedUs) return;
    status(t("reconnecting"));
    reconnectTimer = setTimeout(connect, backoff * (0.5 + Math.random()));
    backoff = Math.min(backoff * 2, 30000);
  }

  function onControl(msg) {
    if (msg.type === "welcome") {
      if (!relayVersionOk(msg.version)) return;
      backoff = 500;
      scheduleRefresh();
      initiator = new C.Initiator(state.deviceSecretKey, state.nodePublicKey);
      sendRaw(initiator.start());
    } else if (msg.type === "presence") {
      // Online is shown once the handshake proves it is our PC; offline is shown at once.
      if (!msg.online) { setOnline(false); session = null; initiator = null; }
      if (msg.online && !session && !initiator && ws && ws.readyState === WebSocket.OPEN) {
        initiator = new C.Initiator(state.deviceSecretKey, state.nodePublicKey);
        sendRaw(initiator.start());
      }
    } else if (msg.type === "revoked") {
      relaySaysRevoked(msg.reason);
    } else if (msg.type === "error") {
      if (msg.code === E.TOKEN_EXPIRED) { ws.onclose = null; ws.close(); refreshTokens().then((ok) => ok && connect()); }
      else if (msg.code === E.REVOKED) relaySaysRevoked(msg.message);
      else if (msg.code === E.UPDATE_REQUIRED) updateNeeded(msg.message);
      else {
        if ([E.CLOUD_UNAVAILABLE, E.CLOUD_NOT_ALLOWED].includes(msg.code)) { cloudInitiator = null; cloudSession = null; cloudQueue.length = 0; }
        status(codeText(msg.code, msg.message), msg.fatal);
      }
    }
  }

  function sendRaw(payload) {
    ws.send(C.packFrame(state.nodeId, payload));
  }

  function send(obj) {
    if (!session) return false;
    sendRaw(session.seal(enc.encode(JSON.stringify(obj))));
    return true;
  }

  function onFrame(frame) {
    let payload, peerId;
    try { ({ payload, peerId } = C.unpackFrame(frame)); } catch (err) { return; }
    if (peerId === CLOUD_PEER_ID) { onCloudFrame(payload); return; }
    if (payload[0] === C.HS2) {
      if (!initiator) return; // not ours to finish (a replay): nothing to do
      try { session = finishHandshake(initiator, payload, state.nodeId); } catch (err) { status(t("handshakeFailed"), true); ws.close(); return; }
      initiator = null;
      status("");
      setOnline(true);
      flushOutbox();
      return;
    }
    if (payload[0] === C.RESYNC) { rehandshake(); return; } // the PC holds no session for us
    const msg = openFromNode(payload);
    if (msg && !onSessionMessage(msg, "pc")) onApp(msg);
  }

  // -- application messages --------------------------------------------------------------------
  function onApp(msg) {
    if (["delta", "done", "cancelled"].includes(msg.type)) endThinking(msg.id);
    if (msg.type === "node_info") {
      state.nodeName = msg.node_name; state.role = msg.role; save(state); setOnline(true);
      show($("devices").classList.contains("hidden") ? "chat" : "devices");
    } else if (msg.type === "delta") {
      const bubble = replyBubble(msg.id);
      showReply(bubble, (bubble.raw || "") + msg.text);
      bubble.scrollIntoView({ block: "end" });
    } else if (msg.type === "done") {
      const bubble = replyBubble(msg.id);
      if (!bubble.textContent) showReply(bubble, msg.text);
      pendingReplies.delete(msg.id);
      removeStop(msg.id);
    } else if (msg.type === "plan") {
      renderPlan(msg);
    } else if (msg.type === "cancelled") {
      markStopped(msg.id);
    } else if (msg.type === "tool_activity") {
      showToolActivity(msg);
    } else if (msg.type === "approval_request") {
      approvals.set(msg.approval_id, msg); renderApprovals();
    } else if (msg.type === "approval_resolved") {
      approvals.delete(msg.approval_id); renderApprovals();
      // Approved: the tool that waited for it runs now (its line said "waiting for approval").
      const line = waitingLines.get(msg.approval_id);
      waitingLines.delete(msg.approval_id);
      if (line && msg.outcome === "approved") setToolLine(line, line.dataset.tool, "started");
    } else if (msg.type === "devices") {
      renderDevices(msg.items);
    } else if (msg.type === "app_error") {
      endAllThinking();
      status(codeText(msg.code, msg.message), true);
    } else if (msg.type === "pairing_changed" && msg.state === "revoked") {
      revokedHere(); // the PC itself said so, inside the end-to-end session
    }
  }

  // A refusal in the user's language when the client knows its code, else the sender's words.
  function codeText(code, fallback) {
    const key = "err_" + code;
    return code && t(key) !== key ? t(key) : fallback;
  }

  // -- sessions that heal, and messages never shown as sent when they were not -----------------
  // The PC (or the Cloud) acknowledges every chat it opened ("received"). A chat it refused
  // (its "resync" names the first frame it did not accept), or one not acknowledged in time,
  // is shown as not delivered; then a new handshake starts and the user sees "reconnecting".
  const ACK_TIMEOUT_MS = 15000;
  const unacked = new Map(); // chat id -> {el, peer: "pc" | "cloud", counter, timer, note}
  const lateAcks = new Map(); // chats shown as not delivered that an ack may still correct
  let prevSession = null, handshakeAt = 0;

  function trackDelivery(id, el, peer, counter) {
    el.classList.add("sending");
    el.dataset.delivery = "sending";
    const timer = setTimeout(() => markUndelivered(id), ACK_TIMEOUT_MS);
    unacked.set(id, { el, peer, counter, timer });
  }

  function markDelivered(id) {
    const d = unacked.get(id) || lateAcks.get(id);
    lateAcks.delete(id);
    if (!d) return;
    clearTimeout(d.timer);
    unacked.delete(id);
    d.el.classList.remove("sending", "undelivered");
    d.el.dataset.delivery = "delivered";
    if (d.note) d.note.remove();
  }

  function markUndelivered(id) {
    const d = unacked.get(id);
    if (!d) return;
    clearTimeout(d.timer);
    unacked.delete(id);
    lateAcks.set(id, d); // a reordered frame may still be acknowledged: then it was delivered
    d.el.classList.remove("sending");
    d.el.classList.add("undelivered");
    d.el.dataset.delivery = "undelivered";
    const note = document.createElement("div");
    note.className = "undelivered-note";
    note.dataset.i18n = "notDelivered";
    note.textContent = t("notDelivered");
    d.el.after(note);
    d.note = note;
  }

  // Every chat to `peer` still waiting is not delivered (from `counter` on, when it is known).
  function undeliverFrom(peer, counter) {
    for (const [id, d] of [...unacked]) {
      if (d.peer === peer && (counter === undefined || d.counter === null || d.counter >= counter)) markUndelivered(id);
    }
  }

  // After HS2: CONFIRM (an empty frame under the new keys), so the far end switches to them.
  function finishHandshake(init, hs2, peerId) {
    const fresh = init.finish(hs2);
    ws.send(C.packFrame(peerId, fresh.seal(new Uint8Array(0))));
    if (peerId === state.nodeId) prevSession = session; // still read until the PC speaks anew
    return fresh;
  }

  // A frame from the PC: the current session, else the one before it (frames already on the
  // way when we re-handshook). Anything else is refused: tell the PC and start again.
  function openFromNode(payload) {
    if (session) {
      try { const msg = JSON.parse(dec.decode(session.open(payload))); prevSession = null; return msg; } catch (err) { /* below */ }
    }
    if (prevSession) {
      try { return JSON.parse(dec.decode(prevSession.open(payload))); } catch (err) { /* below */ }
    }
    if (session) send({ type: "resync", expected: session.recvCounter, reason: "refused" });
    rehandshake();
    return null;
  }

  function rehandshake() {
    if (!state || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (initiator && Date.now() - handshakeAt < 5000) return; // one is on its way
    undeliverFrom("pc");
    status(t("reconnecting"));
    setOnline(false);
    initiator = new C.Initiator(state.deviceSecretKey, state.nodePublicKey);
    handshakeAt = Date.now();
    sendRaw(initiator.start());
  }

  function cloudRefused() {
    if (cloudSession) ws.send(C.packFrame(CLOUD_PEER_ID, cloudSession.seal(enc.encode(JSON.stringify({ type: "resync", expected: cloudSession.recvCounter, reason: "refused" })))));
    cloudSession = null;
    undeliverFrom("cloud");
    status(t("reconnecting"));
    openCloud();
  }

  // Session bookkeeping from the far end; true when the message was one.
  function onSessionMessage(msg, peer) {
    if (msg.type === "received") { markDelivered(msg.id); return true; }
    if (msg.type === "resync") {
      undeliverFrom(peer, msg.expected);
      // The old session is still read (late replies and acks) until the new one speaks.
      if (peer === "pc") { prevSession = session; session = null; rehandshake(); } else { cloudSession = null; status(t("reconnecting")); openCloud(); }
      return true;
    }
    return false;
  }

  function connectionLost() {
    undeliverFrom("pc");
    undeliverFrom("cloud");
    prevSession = null;
  }

  // -- what the Relay says about us is a warning; only the PC can unpair this device -------------
  // A lying Relay could say "revoked" to make us delete our keys while the PC still lists us.
  // We keep everything, stop reconnecting and say so; the PC's own word (pairing_changed,
  // inside the end-to-end session) is what unpairs.
  function relaySaysRevoked(reason) {
    clearTimeout(refreshTimer);
    clearTimeout(reconnectTimer);
    relayRefusedUs = true;
    if (ws) { ws.onclose = null; ws.close(); }
    connectionLost();
    setOnline(false);
    status(t("relaySaysRevoked") + (reason ? ` (${reason})` : ""), true);
  }

  // The Relay speaks another protocol major version than this page: say "update", stop.
  function relayVersionOk(version) {
    const major = Number(String(version || "").split(".")[0]);
    const ours = Number(PROTOCOL_VERSION.split(".")[0]);
    if (Number.isInteger(major) && major >= ours - 1 && major <= ours + 1) return true;
    updateNeeded("");
    return false;
  }

  function updateNeeded(detail) {
    clearTimeout(reconnectTimer);
    relayRefusedUs = true;
    if (ws) { ws.onclose = null; ws.close(); }
    connectionLost();
    setOnline(false);
    status(t("updateNeeded") + (detail ? ` (${detail})` : ""), true);
  }

  // -- the Cloud ---------------------------------------------------------------------------------
  // The Cloud's key is believed only when ORA's release key signed it; the release key is the
  // one in this bundle (release-key.json, kept by the service worker), never the Relay's word.
  async function cloudKey() {
    const [resp, keyResp] = await Promise.all([
      fetch(relayOrigin + "/v1/cloud/key", { credentials: "omit", cache: "no-store" }),
      fetch("release-key.json", { credentials: "omit" }),
    ]);
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error(body.message || resp.statusText);
    if (!keyResp.ok) throw new C.CloudKeyError("this page has no release key");
    return C.verifyCloudKey(body.statement, C.releaseKeyFrom(await keyResp.text()), Date.now() / 1000);
  }

  async function openCloud() {
    if (cloudSession || cloudInitiator || !ws || ws.readyState !== WebSocket.OPEN) return;
    let key;
    try { key = await cloudKey(); } catch (err) {
      cloudQueue.length = 0; // nothing waits to be sent under a key we refused
      status(err instanceof C.CloudKeyError ? t("cloudKeyRefused") : err.message, true);
      return;
    }
    cloudInitiator = new C.Initiator(state.deviceSecretKey, key);
    // The Cloud never paired with this device, so HS1 carries the device's static key.
    ws.send(C.packFrame(CLOUD_PEER_ID, concatBytes(cloudInitiator.start(), C.publicKeyOf(state.deviceSecretKey))));
  }

  function concatBytes(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0); out.set(b, a.length);
    return out;
  }

  function onCloudFrame(payload) {
    if (payload[0] === C.HS2 && cloudInitiator) {
      try { cloudSession = finishHandshake(cloudInitiator, payload, CLOUD_PEER_ID); } catch (err) { status(t("handshakeFailed"), true); cloudInitiator = null; return; }
      cloudInitiator = null;
      while (cloudQueue.length) sendCloud(cloudQueue.shift());
      return;
    }
    if (!cloudSession) return;
    let msg;
    try { msg = JSON.parse(dec.decode(cloudSession.open(payload))); } catch (err) { cloudRefused(err); return; }
    if (onSessionMessage(msg, "cloud")) return;
    if (msg.type === "cloud_receipt") {
      const line = document.createElement("div");
      line.className = "receipt";
      line.textContent = `${t("cloudReceipt")} · ${msg.model || "-"} · ${msg.tokens_in + msg.tokens_out} ${t("tokens")} · $${msg.cost_usd.toFixed(6)}`;
      const reply = pendingReplies.get(msg.id) || replyBubble(msg.id);
      reply.after(line);
      pendingReplies.delete(msg.id);
    } else if (msg.type === "delta" || msg.type === "done") {
      endThinking(msg.id);
      replyBubble(msg.id).classList.add("cloud");
      if (msg.type === "done") { const b = replyBubble(msg.id); if (!b.textContent) showReply(b, msg.text); return; } // kept for the receipt
      onApp(msg);
    } else if (msg.type === "app_error") {
      endAllThinking();
      status(codeText(msg.code, msg.message), true);
    }
  }

  function sendCloud(obj) {
    if (!cloudSession) { cloudQueue.push(obj); openCloud(); return; }
    if (obj.type === "chat") { const d = unacked.get(obj.id); if (d) d.counter = cloudSession.sendCounter; }
    ws.send(C.packFrame(CLOUD_PEER_ID, cloudSession.seal(enc.encode(JSON.stringify(obj)))));
  }

  function setTarget(next) {
    target = next;
    const b = $("target");
    b.dataset.i18n = next === "cloud" ? "targetCloud" : "targetPc";
    b.textContent = t(b.dataset.i18n);
    b.classList.toggle("cloud", next === "cloud");
    b.setAttribute("aria-pressed", String(next === "cloud"));
    if (next === "cloud") { status(t("cloudOn")); openCloud(); } else status("");
  }

  // Ask before anything goes to the Cloud; `item` is a kept message waiting for the answer
  // (PC offline): declined, it stays kept for the PC.
  function askCloud(item) {
    pendingAsk = { item };
    $("cloud-offer").classList.toggle("hidden", item === null);
    $("cloud-ask").classList.remove("hidden");
  }

  function answerCloud(yes) {
    const ask = pendingAsk;
    pendingAsk = null;
    $("cloud-ask").classList.add("hidden");
    if (!ask || !yes) return; // nothing sent; a kept message stays kept
    setTarget("cloud");
    if (ask.item) { takeFromOutbox(ask.item.id); dispatch(ask.item.id, ask.item.text); }
  }

  function newId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  }

  function sendText(text) {
    const id = newId();
    const el = bubble("me", text);
    dispatch(id, text, el);
  }

  // Send a message whose bubble is already shown; "thinking…" until the first word. With its
  // bubble (`el`), the bubble shows "sending" until acknowledged, else "not delivered".
  function dispatch(id, text, el) {
    const msg = { type: "chat", id, text };
    startThinking(id);
    if (target === "cloud") {
      if (el) trackDelivery(id, el, "cloud", cloudSession ? cloudSession.sendCounter : null);
      sendCloud(msg);
    } else {
      if (el) trackDelivery(id, el, "pc", session ? session.sendCounter : null);
      if (send(msg)) addStop(id, () => send({ type: "cancel", id })); else markUndelivered(id);
    }
  }

  // -- the first screen after pairing: what ORA can do here, not an empty chat -------------------
  function showPairedWelcome() {
    const card = document.createElement("div");
    card.className = "card paired-welcome";
    const h = document.createElement("h2");
    h.dataset.i18n = "pairedTitle";
    h.textContent = t("pairedTitle");
    const list = document.createElement("ul");
    for (const key of ["canChat", "canApprove", "canDevices", "canOffline"]) {
      if (key === "canDevices" && state && state.role !== "owner") continue;
      const li = document.createElement("li");
      li.dataset.i18n = key;
      li.textContent = t(key);
      list.appendChild(li);
    }
    card.append(h, list);
    $("chat").prepend(card);
  }

  // -- "thinking…" until the first word; messages kept while the PC is offline ----------------------
  // A reply bubble starts as a "thinking…" label the moment a message is sent; the first delta
  // (or the end of the turn) replaces it. Tool lines and plans go above it, so it stays last.
  const thinking = new Set();

  function startThinking(id) {
    const el = replyBubble(id);
    el.classList.add("thinking");
    const label = document.createElement("span");
    label.className = "thinking-label";
    label.dataset.i18n = "thinking"; // retranslated by the language switch
    label.textContent = t("thinking");
    el.replaceChildren(label);
    thinking.add(id);
  }

  function endThinking(id) {
    if (!thinking.delete(id)) return;
    const el = pendingReplies.get(id);
    if (el) { el.classList.remove("thinking"); el.replaceChildren(); }
  }

  function endAllThinking() {
    for (const id of [...thinking]) { endThinking(id); const el = pendingReplies.get(id); if (el && !el.textContent) el.remove(); }
  }

  // The outbox lives in IndexedDB next to the device's state, so a reload keeps it.
  const OUTBOX = "outbox";
  let outbox = []; // [{id, text, at}]
  const unsentBubbles = new Map();
  const saveOutbox = () => idb("readwrite", (s) => s.put(outbox, OUTBOX)).catch(() => {});
  const dropOutbox = () => { outbox = []; unsentBubbles.clear(); return idb("readwrite", (s) => s.delete(OUTBOX)).catch(() => {}); };

  function showUnsent(item) {
    const el = bubble("me unsent", item.text);
    const note = document.createElement("span");
    note.className = "unsent-note";
    note.dataset.i18n = "notSent";
    note.textContent = t("notSent");
    el.appendChild(note);
    unsentBubbles.set(item.id, el);
  }

  function keepUnsent(text) {
    const item = { id: newId(), text, at: Date.now() };
    outbox.push(item);
    saveOutbox();
    showUnsent(item);
    return item;
  }

  function takeFromOutbox(id) {
    outbox = outbox.filter((m) => m.id !== id);
    saveOutbox();
    const el = unsentBubbles.get(id);
    if (el) { el.classList.remove("unsent"); el.querySelector(".unsent-note")?.remove(); }
    unsentBubbles.delete(id);
  }

  async function restoreOutbox() {
    const kept = await idb("readonly", (s) => s.get(OUTBOX)).catch(() => null);
    outbox = Array.isArray(kept) ? kept : [];
    outbox.forEach(showUnsent);
  }

  // The PC is back (its handshake just finished): send what was kept, oldest first, to the PC.
  function flushOutbox() {
    if (!session || !outbox.length) return;
    for (const item of [...outbox]) {
      takeFromOutbox(item.id);
      const msg = { type: "chat", id: item.id, text: item.text };
      startThinking(item.id);
      send(msg);
      addStop(item.id, () => send({ type: "cancel", id: item.id }));
    }
    status(t("sentNow"));
  }

  // -- plan progress and Stop (one box and one button per chat message id) ---------------------
  const planBoxes = new Map(), stopButtons = new Map();

  function renderPlan(msg) {
    let box = planBoxes.get(msg.id);
    if (!box) {
      box = document.createElement("div");
      box.className = "tool plan";
      $("chat").insertBefore(box, replyBubble(msg.id));
      planBoxes.set(msg.id, box);
    }
    box.textContent = "";
    box.lastPlan = msg; // redrawn in the other language when the user switches
    const head = document.createElement("b");
    const n = String(Math.max(msg.current, 1)), m = String(msg.steps.length);
    head.textContent = t("stepOf").replace("{n}", n).replace("{m}", m) + (msg.revision ? " · " + t("planRevised") : "");
    box.appendChild(head);
    msg.steps.forEach((step, i) => {
      const line = document.createElement("div");
      line.className = "step " + step.status;
      const what = document.createElement("span");
      what.translate = false; // the planner's words
      what.textContent = `${i + 1}. ${step.text}`;
      line.append(what, `${step.tool ? ` (${toolTitle(step.tool)})` : ""} — ${t("step_" + step.status)}`);
      box.appendChild(line);
    });
  }

  function addStop(id, onStop) {
    const button = document.createElement("button");
    button.className = "stop";
    button.textContent = t("stop");
    button.addEventListener("click", () => { button.disabled = true; onStop(); });
    $("chat").appendChild(button);
    stopButtons.set(id, button);
  }

  function removeStop(id) {
    const button = stopButtons.get(id);
    if (button) button.remove();
    stopButtons.delete(id);
  }

  function markStopped(id) {
    removeStop(id);
    const line = document.createElement("div");
    line.className = "tool stopped";
    line.textContent = t("stopped");
    replyBubble(id).after(line);
  }

  function bubble(kind, text) {
    const el = document.createElement("div");
    el.className = "msg " + kind;
    el.translate = false; // what the user and the model wrote: not the interface's words
    el.textContent = text;
    $("chat").appendChild(el);
    el.scrollIntoView({ block: "end" });
    return el;
  }

  // -- replies: the model's markdown shown as text a person reads, never as raw marks ---------------
  // Built from DOM nodes (never innerHTML): **bold**, *italic*, `code`, code blocks, headings,
  // "- " lists as bullets, [text](address) as "text (address)". Redrawn whole on each delta.
  function inline(parent, text) {
    const re = /(\*\*[^*\n]+\*\*|__[^_\n]+__|`[^`\n]+`|\*[^*\s][^*\n]*\*|\[[^\]\n]+\]\([^)\s]+\))/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      parent.append(text.slice(last, m.index));
      const tok = m[0];
      let el;
      if (tok.startsWith("**") || tok.startsWith("__")) { el = document.createElement("strong"); el.textContent = tok.slice(2, -2); }
      else if (tok.startsWith("`")) { el = document.createElement("code"); el.textContent = tok.slice(1, -1); }
      else if (tok.startsWith("[")) { const [, label, href] = tok.match(/^\[([^\]]+)\]\(([^)]+)\)$/); el = document.createTextNode(`${label} (${href})`); }
      else { el = document.createElement("em"); el.textContent = tok.slice(1, -1); }
      parent.append(el);
      last = m.index + tok.length;
    }
    parent.append(text.slice(last));
  }

  function showReply(el, raw) {
    el.raw = raw;
    el.replaceChildren();
    let code = null;
    raw.split("\n").forEach((line, i) => {
      if (/^\s*```/.test(line)) {
        if (code) { code = null; } else { code = document.createElement("pre"); code.className = "code"; el.append(code); }
        return;
      }
      if (code) { code.append((code.textContent ? "\n" : "") + line); return; }
      if (i) el.append("\n");
      const heading = line.match(/^#{1,6}\s+(.*)$/);
      const item = line.match(/^(\s*)[-*+]\s+(.*)$/);
      if (heading) { const b = document.createElement("strong"); inline(b, heading[1]); el.append(b); }
      else if (item) { el.append(`${item[1]}• `); inline(el, item[2]); }
      else inline(el, line);
    });
  }

  function replyBubble(id) {
    let el = pendingReplies.get(id);
    if (!el) { el = bubble("ora", ""); pendingReplies.set(id, el); }
    return el;
  }

  // A tapped notification opens the app as ?approval=<id>: that card is shown first, ready.
  const focusApproval = new URLSearchParams(location.search).get("approval");
  if (focusApproval) history.replaceState(null, "", location.pathname);

  // The taint rule's disclosure (where data would go, what, and the turn's private reads), in
  // this device's language, shown whole, never hidden. Older Nodes sent it only as the
  // (English) reason's lines after the first.
  function disclosure(a) {
    const d = a.disclosure || {};
    if (typeof d.sends_to !== "string") return (a.reason || "").includes("\n") ? a.reason : "";
    const list = (v) => (Array.isArray(v) ? v : []);
    const sources = list(d.untrusted_sources).slice(0, 3)
      .map((s) => `${toolTitle(s.tool || "")} ${s.where || ""}`.trim()).join(", ");
    // Function replacers: a page's address may hold "$&" and the like.
    const lines = [
      t("discWarn").replace("{tool}", () => toolTitle(a.tool)).replace("{sources}", () => sources),
      t("discSendsTo") + d.sends_to,
    ];
    if (d.body) lines.push(t("discData") + d.body);
    const reads = list(d.private_reads);
    if (reads.length) lines.push(t("discReads"));
    for (const r of reads) lines.push(`- ${`${toolTitle(r.tool || "")} ${r.what || ""}`.trim()}: ${r.excerpt || ""}`);
    return lines.join("\n");
  }

  // A tool's line in the chat, one per call, updated in place: running, waiting for approval,
  // then done / failed / not run / stopped, in the reader's language.
  const toolLines = new Map(), waitingLines = new Map();

  function toolTitle(tool) { return I.has("toolname_" + tool) ? t("toolname_" + tool) : tool; }

  // While a tool waits for the owner, the reply's "Thinking…" says so instead.
  function thinkingSays(id, key) {
    const label = thinking.has(id) && pendingReplies.get(id)?.querySelector(".thinking-label");
    if (label) { label.dataset.i18n = key; label.textContent = t(key); }
  }

  function setToolLine(line, tool, status) {
    if (line.dataset.reply) thinkingSays(line.dataset.reply, status === "waiting" ? "waitingLabel" : "thinking");
    line.dataset.tool = tool; line.dataset.status = status;
    line.className = "tool " + status;
    line.textContent = `${toolTitle(tool)} — ${I.has("tool_" + status) ? t("tool_" + status) : status}`;
  }

  function retranslate() {
    toolLines.forEach((line) => setToolLine(line, line.dataset.tool, line.dataset.status));
    planBoxes.forEach((box) => { if (box.lastPlan) renderPlan(box.lastPlan); });
  }

  function showToolActivity(msg) {
    const key = `${msg.id}/${msg.call_id || toolLines.size}`;
    let line = toolLines.get(key);
    if (!line) {
      line = document.createElement("div");
      $("chat").insertBefore(line, replyBubble(msg.id));
      line.dataset.reply = msg.id;
      toolLines.set(key, line);
    }
    setToolLine(line, msg.tool, msg.status);
    if (msg.status === "waiting" && msg.detail) waitingLines.set(msg.detail, line);
  }

  // Who asked, in words: the person (the owner, or a guest) and the device by its name.
  function askedBy(a) {
    const person = a.requester_role === "owner" ? t("personOwner") : t("personGuest");
    const local = a.channel === "tray" || a.channel === "terminal";
    const device = a.channel === state.deviceId ? t("thisDevice") : (a.device_name || (local ? t("thePc") : a.channel.slice(0, 8)));
    return I.fmt("askedBy", { person, device });
  }

  // The countdown counts down on screen, every second, until the card goes.
  function countdownText(a) {
    return I.fmt("autoDeny", { s: Math.max(0, Math.round(a.expires_at - Date.now() / 1000)) });
  }
  setInterval(() => {
    document.querySelectorAll("#approvals .countdown").forEach((el) => {
      const a = approvals.get(el.dataset.id);
      if (a) el.textContent = countdownText(a);
    });
  }, 1000);

  function renderApprovals() {
    const box = $("approvals");
    box.replaceChildren();
    box.classList.toggle("hidden", approvals.size === 0);
    for (const a of approvals.values()) {
      const mine = a.channel === state.deviceId; // this device asked: it may only withdraw
      const card = document.createElement("div");
      card.className = "card approval" + (mine ? " mine" : "");
      const h = document.createElement("h2");
      h.textContent = `${t("approvalTitle")}: ${toolTitle(a.tool)}`;
      const target = document.createElement("div");
      target.className = "target";
      if (a.target) {
        const path = document.createElement("span");
        path.translate = false;
        path.textContent = a.target;
        target.append(`${t("target")}: `, path);
      }
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = askedBy(a);
      const meta = document.createElement("div");
      meta.className = "meta";
      const risk = document.createElement("span");
      risk.className = "risk " + String(a.risk).toLowerCase();
      risk.textContent = I.fmt("riskLine", { risk: I.has("risk_" + a.risk) ? t("risk_" + a.risk) : a.risk });
      const countdown = document.createElement("span");
      countdown.className = "countdown"; countdown.dataset.id = a.approval_id;
      countdown.textContent = countdownText(a);
      meta.append(risk, " · ", countdown);
      const args = document.createElement("pre");
      args.className = "arguments";
      args.translate = false;
      args.textContent = JSON.stringify(a.arguments, null, 2);
      const row = document.createElement("div");
      row.className = "row";
      if (mine) {
        const note = document.createElement("p");
        note.className = "waiting-note";
        note.textContent = t(state.role === "owner" ? "waitingYours" : "waitingOwner");
        const b = document.createElement("button");
        b.type = "button"; b.className = "withdraw"; b.textContent = t("withdraw");
        b.onclick = () => { b.disabled = true; send({ type: "approval_withdraw", approval_id: a.approval_id }); };
        row.append(b);
        card.append(h, target, who, meta, note, args);
      } else {
        for (const [label, approve, cls] of [[t("approve"), true, "approve"], [t("deny"), false, "deny"]]) {
          const b = document.createElement("button");
          b.type = "button"; b.className = cls; b.textContent = label;
          b.onclick = () => send({ type: "approval_answer", approval_id: a.approval_id, approve, digest: a.digest });
          row.appendChild(b);
        }
        card.append(h, target, who, meta, args);
      }
      const disclosed = disclosure(a);
      if (disclosed) {
        const leaves = document.createElement("pre");
        leaves.className = "disclosure";
        leaves.textContent = disclosed;
        card.append(leaves);
      }
      card.append(row);
      if (a.approval_id === focusApproval) { card.classList.add("focus"); box.prepend(card); card.scrollIntoView({ block: "start" }); }
      else box.appendChild(card);
    }
  }

  function renderDevices(items) {
    const box = $("devices");
    box.replaceChildren();
    for (const d of items) {
      const row = document.createElement("div");
      row.className = "device";
      const name = document.createElement("div");
      name.className = "name";
      const label = document.createElement("span");
      label.translate = false; // a name the owner gave
      label.textContent = d.name;
      name.append(label, d.device_id === state.deviceId ? ` (${t("thisDevice")})` : "");
      const meta = document.createElement("div");
      meta.className = "meta";
      const seen = d.online ? t("onlineNow") : `${t("lastSeen")} ${new Date(d.last_seen * 1000).toLocaleString(I.lang)}`;
      meta.textContent = `${d.revoked ? t("revokedTag") : t("role_" + d.role)} · ${seen}`;
      name.appendChild(meta);
      row.appendChild(name);
      if (!d.revoked && state.role === "owner") {
        const b = document.createElement("button");
        b.type = "button"; b.className = "rename"; b.textContent = t("rename");
        b.onclick = () => renameForm(row, d);
        row.appendChild(b);
      }
      if (!d.revoked && d.device_id !== state.deviceId) {
        const b = document.createElement("button");
        b.type = "button"; b.className = "revoke"; b.textContent = t("revoke");
        b.onclick = () => send({ type: "device_revoke", device_id: d.device_id });
        row.appendChild(b);
      }
      box.appendChild(row);
    }
    box.appendChild(pushRow());
  }

  // The owner names a device in place: a text field with Save and Cancel, no browser prompt.
  function renameForm(row, d) {
    const form = document.createElement("form");
    form.className = "rename-form";
    const input = document.createElement("input");
    input.type = "text"; input.value = d.name; input.maxLength = 40;
    input.setAttribute("aria-label", t("deviceName"));
    const save = document.createElement("button");
    save.type = "submit"; save.className = "save"; save.textContent = t("save");
    const cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "cancel"; cancel.textContent = t("cancel");
    cancel.onclick = () => send({ type: "list_devices" });
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      if (name) send({ type: "device_rename", device_id: d.device_id, name });
    };
    form.append(input, save, cancel);
    row.replaceChildren(form);
    input.focus(); input.select();
  }

  // -- notifications (Web Push; relay_server/push_events.py) ------------------------------------
  // Per device on/off, owners only: on subscribes this browser with the Relay's VAPID key and
  // has the Relay keep the subscription; off forgets it on the Relay and in the browser.
  let pushEnabled = false;

  function pushRow() {
    const row = document.createElement("div");
    row.className = "device push-setting";
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = t("pushSetting");
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.id = "push-state";
    meta.textContent = pushEnabled ? t("pushIsOn") : t("pushIsOff");
    name.appendChild(meta);
    const b = document.createElement("button");
    b.type = "button"; b.id = "push-toggle";
    b.textContent = pushEnabled ? t("pushTurnOff") : t("pushTurnOn");
    b.onclick = () => setPush(!pushEnabled);
    row.append(name, b);
    return row;
  }

  function pushError(key) { const err = new Error(t(key)); err.key = key; return err; }

  async function pushRegistration() {
    const sw = navigator.serviceWorker;
    const reg = sw && typeof PushManager !== "undefined" ? await sw.getRegistration() : null;
    if (!reg || !reg.pushManager) throw pushError("pushUnsupported");
    return reg;
  }

  async function setPush(on) {
    try {
      if (on) {
        const reg = await pushRegistration();
        if ((await Notification.requestPermission()) !== "granted") throw pushError("pushDenied");
        const resp = await fetch(relayOrigin + "/v1/push/key", { credentials: "omit", cache: "no-store" });
        const key = (await resp.json()).application_server_key;
        const sub = (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: C.b64uDecode(key) })).toJSON();
        pushEnabled = (await post("/v1/push/subscribe", { token: state.accessToken, endpoint: sub.endpoint, keys: sub.keys })).enabled;
      } else {
        pushEnabled = (await post("/v1/push/unsubscribe", { token: state.accessToken })).enabled;
        const reg = navigator.serviceWorker && await navigator.serviceWorker.getRegistration();
        const sub = reg && reg.pushManager && await reg.pushManager.getSubscription();
        if (sub) await sub.unsubscribe();
      }
      status("");
    } catch (err) {
      status(err.key ? err.message : t("pushFailed") + codeText(err.code, err.message), true);
    }
    refreshPushRow();
  }

  function refreshPushRow() {
    const old = document.querySelector("#devices .push-setting");
    if (old) old.replaceWith(pushRow());
  }

  async function loadPushState() {
    if (!state || state.role !== "owner") return;
    try { pushEnabled = (await post("/v1/push/status", { token: state.accessToken })).enabled; } catch (err) { /* shown as off */ }
    refreshPushRow();
  }

  // -- on the PC itself: the local server, no Relay, no pairing ----------------------------------
  // The tray opens this page as /app/#login=<one-time code> (the browser's command line is
  // readable by other local users, so it never carries the token); the page trades the code
  // for this tab's session token at once. `#local=<token>` (typed by hand from the
  // local-token file) still works. The token stays in this tab only (sessionStorage) and goes
  // only to the server that served the page.
  const LOCAL_KEY = "ora-local-token";
  let localToken = null;

  async function takeLocalToken() {
    const login = location.hash.match(/^#login=([A-Za-z0-9_-]{16,})$/);
    const m = location.hash.match(/^#local=([A-Za-z0-9_-]{20,})$/);
    if (login || m) history.replaceState(null, "", location.pathname + location.search);
    if (m) sessionStorage.setItem(LOCAL_KEY, m[1]);
    if (login) {
      sessionStorage.removeItem(LOCAL_KEY);
      const resp = await fetch("/auth/login", {
        method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: login[1] }),
      }).catch(() => null);
      const body = resp ? await resp.json().catch(() => ({})) : {};
      if (resp && resp.ok && typeof body.token === "string") sessionStorage.setItem(LOCAL_KEY, body.token);
      else return { failed: resp ? "localCodeUsed" : "localDown" };
    }
    return sessionStorage.getItem(LOCAL_KEY);
  }

  async function localChat(text) {
    const id = "local-" + Date.now();
    let resp;
    const headers = { "Content-Type": "application/json", "Authorization": "Bearer " + localToken };
    addStop(id, () => fetch("/api/chat/cancel", {
      method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      headers, body: JSON.stringify({ id }),
    }).catch(() => {}));
    startThinking(id);
    try {
      resp = await fetch("/api/chat", {
        method: "POST", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
        headers, body: JSON.stringify({ text, id }),
      });
    } catch (err) {
      removeStop(id); endThinking(id); setLocalOnline(false); status(t("localDown"), true);
      $("input").value = $("input").value || text; // not sent: the words are not lost
      return;
    }
    if (!resp.ok) { removeStop(id); endThinking(id); }
    if (resp.status === 401) {
      sessionStorage.removeItem(LOCAL_KEY); localToken = null; setLocalOnline(false);
      status(t("localToken"), true); return;
    }
    if (!resp.ok) { status((await resp.json().catch(() => ({}))).message || resp.statusText, true); return; }
    setLocalOnline(true); status("");
    const reader = resp.body.getReader();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl); buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line);
        if (ev.type === "delta") onApp({ type: "delta", id, text: ev.text });
        else if (ev.type === "tool") onApp({ type: "tool_activity", id, call_id: ev.call_id || "", tool: ev.tool, status: ev.status, detail: ev.approval_id || "" });
        else if (ev.type === "done") onApp({ type: "done", id, text: ev.text });
        else if (ev.type === "plan") onApp({ ...ev, id });
        else if (ev.type === "cancelled") onApp({ type: "cancelled", id });
      }
    }
  }

  function setLocalOnline(online) {
    $("dot").className = "dot " + (online ? "online" : "offline");
    $("node-name").textContent = `${t("thisPc")} · ${online ? t("online") : t("localDown")}`;
  }

  async function startLocal() {
    show("chat");
    $("tabs").classList.add("hidden");
    const probe = await fetch("/api/status", {
      headers: { "Authorization": "Bearer " + localToken }, credentials: "omit", cache: "no-store",
    }).catch(() => null);
    if (!probe || probe.status === 401) {
      sessionStorage.removeItem(LOCAL_KEY); localToken = null; setLocalOnline(false);
      status(t(probe ? "localToken" : "localDown"), true); return;
    }
    setLocalOnline(true);
    $("lang").onclick = () => { I.toggle(); setLocalOnline(true); retranslate(); };
    $("composer").onsubmit = (ev) => {
      ev.preventDefault();
      const text = $("input").value.trim();
      if (!text) return;
      bubble("me", text);
      $("input").value = "";
      localChat(text);
    };
  }

  // -- plain http only on this PC or a chosen home network (app/home_network.py, same rule) ------
  // The Node marks its pairing links `?home=1` in home-network mode (`make run`); any other
  // plain-http Relay beyond this PC is refused before a token or a frame is sent.
  const HOME_CHOSEN = new URLSearchParams(location.search).get("home") === "1";
  function isLoopbackHost(h) { return h === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "[::1]"; }
  function isPrivateHost(h) {
    const m = h.match(/^(\d+)\.(\d+)\.\d+\.\d+$/);
    if (m) {
      const a = +m[1], b = +m[2];
      return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
    }
    return /^\[f[cd][0-9a-f]{0,2}:/i.test(h) || /^\[fe[89ab][0-9a-f]?:/i.test(h);
  }
  function plainRelayRule(origin, homeChosen) {
    const u = new URL(origin);
    if (u.protocol === "https:" || isLoopbackHost(u.hostname)) return "ok";
    if (!isPrivateHost(u.hostname)) return "public";
    return homeChosen ? "home" : "notChosen";
  }
  function plainRelayAllowed(origin, homeChosen) {
    const rule = plainRelayRule(origin, homeChosen);
    if (rule === "public" || rule === "notChosen") {
      status(t(rule === "public" ? "plainPublic" : "plainNotChosen"), true);
      return false;
    }
    let note = $("plain-note");
    if (rule === "home" && !note) {
      note = document.createElement("p");
      note.id = "plain-note"; note.className = "plain-note"; note.textContent = t("plainHome");
      $("status").before(note);
    }
    return true;
  }
  self.OraPlainRelay = { rule: plainRelayRule, allowed: plainRelayAllowed }; // for the tests

  // -- start -------------------------------------------------------------------------------------
  async function start() {
    I.apply();
    $("lang").onclick = () => {
      I.toggle(); setOnline($("dot").classList.contains("online")); renderApprovals(); refreshPushRow(); retranslate();
      if (!$("devices").classList.contains("hidden")) send({ type: "list_devices" });
    };
    $("code-form").onsubmit = async (ev) => {
      ev.preventDefault();
      if (await pairWithCode($("code").value)) { show("chat"); setOnline(false); connect(); }
    };
    $("tab-chat").onclick = () => show("chat");
    $("tab-devices").onclick = () => { show("devices"); send({ type: "list_devices" }); loadPushState(); };
    $("target").onclick = () => (target === "cloud" ? setTarget("pc") : askCloud(null));
    $("cloud-yes").onclick = () => answerCloud(true);
    $("cloud-no").onclick = () => answerCloud(false);
    $("composer").onsubmit = (ev) => {
      ev.preventDefault();
      const text = $("input").value.trim();
      if (!text) return;
      if (target === "pc" && !session) {
        // The PC is offline: the message is kept (shown as not sent, sent when the PC is back);
        // owners are also offered the Cloud, never switched silently.
        const item = keepUnsent(text);
        $("input").value = "";
        if (state && state.role === "owner" && ws && ws.readyState === WebSocket.OPEN) askCloud(item);
        else status(t("keptOffline"), true);
        return;
      }
      sendText(text);
      $("input").value = "";
    };
    const taken = await takeLocalToken();
    if (taken && taken.failed) {
      show("chat"); $("tabs").classList.add("hidden"); setLocalOnline(false);
      status(t(taken.failed), true); return;
    }
    localToken = taken;
    if (localToken) { await startLocal(); return; }
    await loadRelays();
    state = (await load()) || null;
    if (state && !relays.includes(state.relayOrigin)) state = null; // never send tokens elsewhere
    if (state) relayOrigin = state.relayOrigin;
    if (location.hash.length > 1) {
      const paired = await pairFromFragment();
      if (!paired && !state) { show("welcome"); return; }
    }
    if (!state) { show("welcome"); setOnline(false); return; }
    show("chat");
    setOnline(false);
    await restoreOutbox();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
