/* Japanese and English strings of the web client; follows the browser's language, switchable. */
(function (root) {
  "use strict";
  const STRINGS = {
    en: {
      notPaired: "Not paired", online: "online", offline: "offline (your PC is off or ORA is not running)",
      welcomeTitle: "Welcome to ORA",
      welcomeBody: "Open the pairing QR code shown by ORA on your PC (tray menu → Pair a device, or `ora pair`) with this phone's camera.",
      placeholder: "Message ORA…", send: "Send", chat: "Chat", devices: "Devices",
      pairing: "Pairing with your PC…", paired: "Paired. Your messages are end-to-end encrypted.",
      connecting: "Connecting…", reconnecting: "Connection lost; reconnecting…",
      otherRelay: "This pairing link names a different Relay than the page you opened. Nothing was sent. Open the link from your own ORA.",
      pairFailed: "Pairing failed: ", revoked: "This device's access was revoked by the owner. Pair again to use ORA here.",
      approvalTitle: "Approval needed", approve: "Approve", deny: "Deny", askedFrom: "asked from", risk: "risk",
      expires: "expires in", seconds: "s", revoke: "Revoke", thisDevice: "this device", lastSeen: "last seen",
      revokedTag: "revoked", tool: "tool", handshakeFailed: "Could not verify your PC's identity. Nothing was sent.",
      noCamera: "No camera? Type /code in ORA on your PC (or use the tray's Pair with a code), then enter the code here:",
      pairWithCode: "Pair", compareCode: "Check that your PC shows the same code, then confirm it there:",
      thisPc: "ORA on this PC", localDown: "ORA is not running on this PC",
      localToken: "This page was not opened by ORA on this PC. Use the tray menu → Open in browser.",
      targetPc: "PC", targetCloud: "Cloud ($)", cloudTitle: "Send to the paid Cloud?",
      cloudOffer: "Your PC is offline. You can send this message to ORA's paid Cloud instead.",
      cloudNotice: "The Cloud runs your request on ORA's servers, not on your PC, and can read what it runs: your message and its reply. The Relay still cannot. Each request is billed to your account. The Cloud has no access to your PC or its files.",
      cloudYes: "Use the Cloud", cloudNo: "Cancel", cloudOn: "Messages now go to the paid Cloud (it sees what it runs). Tap Cloud ($) to go back to your PC.",
      pcOffline: "Your PC is offline; nothing was sent.", cloudReceipt: "Cloud", tokens: "tokens",
      notDelivered: "Not delivered. Send it again when the connection is back.",
      relaySaysRevoked: "The Relay says this device's access was revoked, but your PC has not said so. Your keys are kept on this device. If you revoked it yourself, pair it again; if not, check the Devices list on your PC.",
      updateNeeded: "Update needed: this page and the Relay speak different versions of ORA's protocol. Reload the page, or update ORA on your PC.",
    },
    ja: {
      notPaired: "未ペアリング", online: "オンライン", offline: "オフライン（PC の電源が切れているか ORA が起動していません）",
      welcomeTitle: "ORA へようこそ",
      welcomeBody: "PC の ORA が表示するペアリング用 QR コード（トレイメニュー → デバイスをペアリング、または `ora pair`）を、このスマホのカメラで読み取ってください。",
      placeholder: "ORA にメッセージ…", send: "送信", chat: "チャット", devices: "デバイス",
      pairing: "PC とペアリングしています…", paired: "ペアリングしました。メッセージはエンドツーエンドで暗号化されます。",
      connecting: "接続しています…", reconnecting: "接続が切れました。再接続しています…",
      otherRelay: "このペアリングリンクは、開いているページとは別の Relay を指しています。何も送信していません。ご自身の ORA が表示したリンクを開いてください。",
      pairFailed: "ペアリングに失敗しました: ", revoked: "このデバイスのアクセスは所有者によって取り消されました。ここで ORA を使うには再度ペアリングしてください。",
      approvalTitle: "承認が必要です", approve: "承認", deny: "拒否", askedFrom: "依頼元", risk: "リスク",
      expires: "残り", seconds: "秒", revoke: "取り消す", thisDevice: "この端末", lastSeen: "最終接続",
      revokedTag: "取り消し済み", tool: "ツール", handshakeFailed: "PC の本人確認ができませんでした。何も送信していません。",
      noCamera: "カメラがない場合は、PC の ORA で /code と入力し（またはトレイの「コードでペアリング」）、表示されたコードをここに入力してください:",
      pairWithCode: "ペアリング", compareCode: "PC に同じコードが表示されていることを確認し、PC 側で承認してください:",
      thisPc: "この PC の ORA", localDown: "この PC で ORA が起動していません",
      localToken: "このページは この PC の ORA から開かれていません。トレイメニュー →「ブラウザで開く」を使ってください。",
      targetPc: "PC", targetCloud: "クラウド（有料）", cloudTitle: "有料のクラウドに送信しますか？",
      cloudOffer: "PC がオフラインです。代わりにこのメッセージを ORA の有料クラウドに送ることができます。",
      cloudNotice: "クラウドはあなたの PC ではなく ORA のサーバーでリクエストを実行するため、実行する内容（メッセージとその返答）をクラウドは読むことができます。Relay からは引き続き読めません。リクエストごとにアカウントに課金されます。クラウドからあなたの PC やファイルにはアクセスできません。",
      cloudYes: "クラウドを使う", cloudNo: "キャンセル", cloudOn: "メッセージは有料クラウドに送られます（クラウドは実行内容を読めます）。PC に戻すには「クラウド（有料）」をタップしてください。",
      pcOffline: "PC がオフラインのため、送信していません。", cloudReceipt: "クラウド", tokens: "トークン",
      notDelivered: "届いていません。接続が戻ったらもう一度送信してください。",
      relaySaysRevoked: "Relay はこのデバイスのアクセスが取り消されたと伝えていますが、PC からはそのような連絡はありません。このデバイスの鍵は保持しています。ご自身で取り消した場合は再度ペアリングしてください。心当たりがない場合は PC のデバイス一覧を確認してください。",
      updateNeeded: "更新が必要です: このページと Relay が異なるバージョンの ORA プロトコルを使っています。ページを再読み込みするか、PC の ORA を更新してください。",
    },
  };
  let lang = (localStorage.getItem("ora.lang") || navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
  function t(key) { return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key; }
  function apply() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    const button = document.getElementById("lang");
    if (button) button.textContent = lang === "ja" ? "English" : "日本語";
  }
  function toggle() { lang = lang === "ja" ? "en" : "ja"; localStorage.setItem("ora.lang", lang); apply(); }
  root.OraI18n = { t, apply, toggle, get lang() { return lang; } };
})(self);
