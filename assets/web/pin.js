/*
 * The page's side of the signed client (sw.js does the checking): registers the service worker,
 * asks it on each start whether the server offers a new signed version, and tells the person
 * what happened: kept and verified, a new signed version ready, a refused (unsigned, wrongly
 * signed, older or altered) one, or offline. Nothing here decides what code runs.
 */
(function () {
  "use strict";
  const I = self.OraI18n;
  const $ = (id) => document.getElementById(id);
  const REFUSED = { unsigned: "relUnsigned", bad_signature: "relBadSignature", files: "relFiles", older: "relOlder" };

  function say(key, kind, version) {
    const box = $("release");
    const text = $("release-text");
    if (!box || !text) return;
    text.dataset.i18n = key;
    text.textContent = I.t(key);
    $("release-version").textContent = version ? ` (${version})` : "";
    box.className = "release " + kind;
    box.dataset.state = key;
    $("release-reload").classList.toggle("hidden", key !== "relReady");
  }

  function line(version) {
    const el = $("release-line");
    if (!el) return;
    el.dataset.version = version;
    el.querySelector("[data-i18n]").textContent = I.t("relVerified");
    el.querySelector(".v").textContent = version;
    el.classList.remove("hidden");
  }

  function onRelease(msg) {
    if (msg.version && msg.state !== "updated") line(msg.version);
    if (msg.state === "updated") { line(msg.previous); say("relReady", "info", msg.version); }
    else if (msg.state === "refused") say(REFUSED[msg.reason] || "relUnsigned", "warn", msg.version);
    else if (msg.state === "not_kept") say(msg.reason === "bad_signature" ? "relNotKeptBad" : "relNotKept", msg.reason === "bad_signature" ? "warn" : "note");
  }

  function offline(isOffline) {
    const el = $("offline");
    if (el) el.classList.toggle("hidden", !isOffline);
  }

  function start() {
    offline(!navigator.onLine);
    addEventListener("offline", () => offline(true));
    addEventListener("online", () => offline(false));
    const reload = $("release-reload");
    if (reload) reload.onclick = () => location.reload();
    // The PC's own page (opened by the tray with a local token) is served by the Node itself.
    if (/^#(local|login)=/.test(location.hash) || sessionStorage.getItem("ora-local-token")) return;
    if (!("serviceWorker" in navigator)) { say("relNoWorker", "note"); return; }
    const sw = navigator.serviceWorker;
    sw.addEventListener("message", (ev) => { if (ev.data && ev.data.type === "ora-release") onRelease(ev.data); });
    const ask = () => {
      if (!sw.controller) return;
      sw.controller.postMessage({ type: "ora-check" });
      sw.controller.postMessage({ type: "ora-lang", lang: I.lang }); // notifications speak it too
    };
    const lang = $("lang");
    if (lang) lang.addEventListener("click", () => setTimeout(() => sw.controller && sw.controller.postMessage({ type: "ora-lang", lang: I.lang })));
    sw.addEventListener("controllerchange", ask);
    sw.startMessages();
    sw.register("sw.js", { scope: "./" }).then(ask, () => say("relNotKept", "note"));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
