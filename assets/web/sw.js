/*
 * ORA's service worker: keeps the web client's files on the device and runs no code the
 * release key did not sign (installer/web_bundle.py draws bundle.json).
 *
 * - First install (trust on first use): the release key is read from release-key.json, the
 *   signed bundle.json is checked against it and every file it lists against its SHA-256; only
 *   then are the files kept and the key pinned. Nothing signed -> nothing kept (the page says so).
 * - After that every page and file of the client comes from the kept copy, whatever the
 *   server sends; any navigation inside the scope gets the kept index.html, with a strict CSP
 *   whose connect-src names only this origin and the paired Relay.
 * - The page asks for a check on each start: a bundle.json signed by the pinned key with a
 *   higher version, whose files all match, is fetched, kept and offered ("reload"); an
 *   unsigned, wrongly signed or older bundle, or served files that differ from the signed
 *   list, are refused and reported to the page, which keeps running the kept version.
 * - What this cannot do: the browser itself re-fetches this file (sw.js) and the scripts it
 *   imports, and installs changed ones; a server that changes them can replace the pin.
 *   README's safety model says so.
 * - Push (relay_server/push.py): a push carries a kind and ids; text to show, if any, is sealed
 *   by the Node for this device (protocol/notify.py) and opened here with the device's key.
 */
"use strict";
importScripts("vendor/nacl-fast.min.js", "ora-crypto.js", "i18n.js");

const CONTEXT = "ora-web-bundle/1";
const PIN_CACHE = "ora-pin";
const SCOPE = new URL(self.registration.scope);
const PIN_KEY = new URL("__ora_pin__", SCOPE).href;
const enc = new TextEncoder();
const TYPES = {
  html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8",
  json: "application/json", webmanifest: "application/manifest+json", png: "image/png", svg: "image/svg+xml",
};

class Refusal extends Error {
  constructor(reason, detail) { super(`${reason}: ${detail || ""}`); this.reason = reason; }
}

function b64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function sha256hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

function newer(a, b) { // dotted numbers: is a > b?
  const x = a.split(".").map(Number), y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) > (y[i] || 0);
  }
  return false;
}

function url(name) { return new URL(name, SCOPE).href; }

async function fetchFresh(name) {
  return fetch(url(name), { cache: "no-store", credentials: "omit", redirect: "error" });
}

// The release key's public half, checked as release-key.json's format.
function readKey(text) {
  const raw = b64(JSON.parse(text).ed25519_public);
  if (raw.length !== 32) throw new Refusal("unsigned", "release-key.json");
  return raw;
}

// bundle.json's text -> its payload, if signed by key; else a Refusal.
function verifyBundle(text, key) {
  let outer, payloadText, sig;
  try {
    outer = JSON.parse(text);
    payloadText = outer.payload;
    sig = b64(outer.signature);
    if (typeof payloadText !== "string" || sig.length !== 64) throw new Error("shape");
  } catch (err) { throw new Refusal("unsigned", "bundle.json"); }
  const msg = enc.encode(CONTEXT + "\n" + payloadText);
  if (!nacl.sign.detached.verify(msg, sig, key)) throw new Refusal("bad_signature", "bundle.json");
  const payload = JSON.parse(payloadText);
  if (payload.format !== CONTEXT || typeof payload.version !== "string" || typeof payload.files !== "object") {
    throw new Refusal("bad_signature", "payload");
  }
  return { payload, payloadText, signature: outer.signature };
}

async function fetchBundleText() {
  let resp;
  try { resp = await fetchFresh("bundle.json"); } catch (err) { return null; } // offline
  if (!resp.ok) throw new Refusal("unsigned", `bundle.json ${resp.status}`);
  return resp.text();
}

// Every listed file from the server, each matching its signed hash.
async function fetchFiles(payload) {
  const files = new Map();
  await Promise.all(Object.entries(payload.files).map(async ([name, digest]) => {
    if (name.startsWith("/") || name.split("/").includes("..")) throw new Refusal("files", name);
    const resp = await fetchFresh(name);
    if (!resp.ok) throw new Refusal("files", `${name} ${resp.status}`);
    const body = await resp.arrayBuffer();
    if ((await sha256hex(body)) !== digest) throw new Refusal("files", name);
    files.set(name, body);
  }));
  return files;
}

async function keep(verified, files) {
  const cacheName = `ora-bundle-${verified.payload.version}-${Date.now()}`;
  const cache = await caches.open(cacheName);
  for (const [name, body] of files) {
    const ext = name.split(".").pop();
    await cache.put(url(name), new Response(body, { headers: { "Content-Type": TYPES[ext] || "application/octet-stream" } }));
  }
  const key = files.get("release-key.json");
  const pin = {
    key: key ? Array.from(readKey(new TextDecoder().decode(key))) : null,
    version: verified.payload.version, payloadText: verified.payloadText, cache: cacheName,
  };
  if (!pin.key) throw new Refusal("unsigned", "release-key.json is not in the bundle");
  await (await caches.open(PIN_CACHE)).put(PIN_KEY, new Response(JSON.stringify(pin)));
  for (const name of await caches.keys()) if (name.startsWith("ora-bundle-") && name !== cacheName) await caches.delete(name);
  return pin;
}

async function readPin() {
  const resp = await (await caches.open(PIN_CACHE)).match(PIN_KEY);
  return resp ? resp.json() : null;
}

async function firstInstall() {
  const keyResp = await fetchFresh("release-key.json");
  if (!keyResp.ok) throw new Refusal("unsigned", "release-key.json");
  const key = readKey(await keyResp.text());
  const text = await fetchBundleText();
  if (text === null) throw new Refusal("unsigned", "offline");
  const verified = verifyBundle(text, key);
  return keep(verified, await fetchFiles(verified.payload));
}

// One check at a time; the result goes to the page that asked.
let checking = Promise.resolve();
function check() {
  const run = checking.then(checkOnce, checkOnce);
  checking = run.catch(() => {});
  return run;
}

async function checkOnce() {
  const pin = await readPin();
  if (!pin) return { state: "unpinned" };
  const current = { version: pin.version };
  try {
    const text = await fetchBundleText();
    if (text === null) return { state: "offline", ...current };
    const verified = verifyBundle(text, new Uint8Array(pin.key));
    if (verified.payloadText === pin.payloadText) {
      // Same release: the server must still serve exactly its files (else someone changed them).
      await fetchFiles(verified.payload);
      return { state: "current", ...current };
    }
    if (!newer(verified.payload.version, pin.version)) throw new Refusal("older", verified.payload.version);
    const next = await keep(verified, await fetchFiles(verified.payload));
    return { state: "updated", version: next.version, previous: pin.version };
  } catch (err) {
    if (err instanceof Refusal) return { state: "refused", reason: err.reason, ...current };
    return { state: "offline", ...current }; // the network failed mid-way: try again next start
  }
}

async function tell(msg) {
  for (const c of await self.clients.matchAll({ includeUncontrolled: true, type: "window" })) c.postMessage(msg);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    if (await readPin()) { await self.skipWaiting(); return; } // a new worker script keeps the pin
    try {
      const pin = await firstInstall();
      await tell({ type: "ora-release", state: "installed", version: pin.version });
    } catch (err) {
      await tell({ type: "ora-release", state: "not_kept", reason: err instanceof Refusal ? err.reason : "offline" });
      throw err; // nothing signed: this worker is not installed, nothing is kept
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "ora-check") return;
  const source = event.source;
  event.waitUntil(check().then((result) => source && source.postMessage({ type: "ora-release", ...result })));
});

// -- serving the kept copy -------------------------------------------------------------------
const DB_NAME = "ora", STORE = "state", KEY = "device"; // client.js's IndexedDB

function deviceState() {
  return new Promise((resolve) => {
    const open = indexedDB.open(DB_NAME, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onerror = () => resolve(null);
    open.onsuccess = () => {
      try {
        const req = open.result.transaction(STORE, "readonly").objectStore(STORE).get(KEY);
        req.onsuccess = () => { open.result.close(); resolve(req.result || null); };
        req.onerror = () => { open.result.close(); resolve(null); };
      } catch (err) { open.result.close(); resolve(null); }
    };
  });
}

// Relays this page may talk to: the paired one; before pairing, those the page's own server
// names in config.json (its last copy); never any other.
async function relayOrigins() {
  const state = await deviceState();
  if (state && state.relayOrigin) return [state.relayOrigin];
  try {
    const resp = await caches.match(url("config.json"), { cacheName: PIN_CACHE });
    const config = resp ? await resp.json() : {};
    return Array.isArray(config.relays) ? config.relays : [];
  } catch (err) { return []; }
}

function sources(origins) {
  const out = [];
  for (const o of origins) {
    let u;
    try { u = new URL(o); } catch (err) { continue; }
    if (!/^https?:$/.test(u.protocol) || u.origin === SCOPE.origin) continue;
    out.push(u.origin, u.origin.replace(/^http/, "ws"));
  }
  return out.join(" ");
}

async function page(pin) {
  const kept = await (await caches.open(pin.cache)).match(url("index.html"));
  if (!kept) return fetch(url("index.html"));
  const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    `connect-src 'self' ${sources(await relayOrigins())}; manifest-src 'self'; worker-src 'self'; ` +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return new Response(await kept.arrayBuffer(), {
    headers: {
      "Content-Type": TYPES.html, "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    },
  });
}

async function config(request) {
  // Not code, so not signed: the server's list of its Relays, kept for when it is offline.
  const cache = await caches.open(PIN_CACHE);
  try {
    const resp = await fetch(request, { cache: "no-store" });
    if (resp.ok) await cache.put(url("config.json"), resp.clone());
    return resp;
  } catch (err) {
    return (await cache.match(url("config.json"))) || new Response("{}", { headers: { "Content-Type": "application/json" } });
  }
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const u = new URL(req.url);
  if (req.method !== "GET" || u.origin !== SCOPE.origin || !u.pathname.startsWith(SCOPE.pathname)) return;
  const name = u.pathname.slice(SCOPE.pathname.length);
  if (name === "bundle.json" || name === "sw.js") return; // checked by this worker / the browser
  if (name === "config.json") { event.respondWith(config(req)); return; }
  event.respondWith((async () => {
    const pin = await readPin();
    if (!pin) return fetch(req);
    if (req.mode === "navigate") return page(pin);
    if (!Object.prototype.hasOwnProperty.call(JSON.parse(pin.payloadText).files, name)) {
      // Not part of the signed client: nothing the kept page loads, so nothing to serve.
      return new Response("not part of the signed ORA client", { status: 404 });
    }
    return (await (await caches.open(pin.cache)).match(url(name))) || new Response("", { status: 404 });
  })());
});

// -- notifications ------------------------------------------------------------------------------
const LANG_KEY = new URL("__ora_lang__", SCOPE).href;
const KIND_TEXT = {
  approval_waiting: ["pushApproval", "pushApprovalBody"],
  node_offline: ["pushNodeOffline", "pushNodeOfflineBody"],
  node_online: ["pushNodeOnline", "pushNodeOnlineBody"],
  budget_low: ["pushBudget", "pushBudgetBody"],
  device_paired: ["pushPaired", "pushPairedBody"],
  device_revoked: ["pushRevoked", "pushRevokedBody"],
};

async function language() {
  const kept = await (await caches.open(PIN_CACHE)).match(LANG_KEY);
  const lang = kept ? await kept.text() : (navigator.language || "en");
  return lang.toLowerCase().startsWith("ja") ? "ja" : "en";
}

function sameIds(a, b) {
  const ka = Object.keys(a || {}), kb = Object.keys(b || {});
  return ka.length === kb.length && ka.every((k) => typeof b[k] === "string" && a[k] === b[k]);
}

// The Node's sealed text for this device, only if it belongs to exactly this push.
async function openSealed(push) {
  const state = await deviceState();
  if (!state || !state.deviceSecretKey || !state.nodePublicKey || typeof push.sealed !== "string") return null;
  const raw = OraCrypto.b64uDecode(push.sealed);
  if (raw.length < 24 + nacl.box.overheadLength) return null;
  const opened = nacl.box.open(raw.subarray(24), raw.subarray(0, 24), state.nodePublicKey, state.deviceSecretKey);
  if (!opened) return null;
  const text = JSON.parse(new TextDecoder().decode(opened));
  if (text.kind !== push.kind || text.event !== push.event || !sameIds(text.ids, push.ids)) return null;
  return text;
}

async function showPush(data) {
  let push = {};
  try { push = data ? data.json() : {}; } catch (err) { push = {}; }
  const lang = await language();
  const tr = (key) => OraI18n.tr(lang, key);
  const [titleKey, bodyKey] = KIND_TEXT[push.kind] || ["pushApproval", "pushApprovalBody"];
  let body = tr(bodyKey);
  let text = null;
  try { text = await openSealed(push); } catch (err) { text = null; } // unreadable: the plain body
  if (text && push.kind === "approval_waiting" && typeof text.tool === "string") {
    // The tool by its human name, in the reader's language ("Write a file"), like the card.
    const tool = OraI18n.has("toolname_" + text.tool) ? tr("toolname_" + text.tool) : text.tool;
    body = tr("pushApprovalTool").replace("{tool}", () => tool).replace("{device}", () => String(text.device || tr("thePc")));
  }
  const ids = push.ids && typeof push.ids === "object" ? push.ids : {};
  const target = push.kind === "approval_waiting" && typeof ids.approval_id === "string"
    ? `./?approval=${encodeURIComponent(ids.approval_id)}` : "./";
  await self.registration.showNotification(tr(titleKey), {
    body, lang, tag: typeof push.event === "string" ? push.event : undefined, icon: "icons/ora-192.png",
    data: { url: new URL(target, SCOPE).href, kind: push.kind || "" },
  });
}

self.addEventListener("push", (event) => { event.waitUntil(showPush(event.data)); });

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || SCOPE.href;
  event.waitUntil((async () => {
    for (const c of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
      if (new URL(c.url).origin === SCOPE.origin && "navigate" in c) { await c.focus(); return c.navigate(target); }
    }
    return self.clients.openWindow(target);
  })());
});

self.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "ora-lang" || !/^(en|ja)$/.test(event.data.lang)) return;
  event.waitUntil(caches.open(PIN_CACHE).then((c) => c.put(LANG_KEY, new Response(event.data.lang))));
});
