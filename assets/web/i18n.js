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
      localCodeUsed: "This sign-in link was already used or has expired. Use the tray menu → Open in browser again.",
      plainHome: "Home network: this connection is not encrypted (plain http), but your messages are end-to-end encrypted. Away from home, use an https Relay.",
      plainPublic: "This Relay is reached over plain http on an address beyond this PC and your home network. ORA refuses it: nothing was sent. Use an https Relay.",
      plainNotChosen: "This Relay is on your home network over plain http, but your PC did not offer home-network mode. Nothing was sent. Scan the QR code from ORA on your PC again.",
      targetPc: "PC", targetCloud: "Cloud ($)", cloudTitle: "Send to the paid Cloud?",
      cloudOffer: "Your PC is offline. You can send this message to ORA's paid Cloud instead.",
      cloudNotice: "The Cloud runs your request on ORA's servers, not on your PC, and can read what it runs: your message and its reply. The Relay still cannot. Each request is billed to your account. The Cloud has no access to your PC or its files.",
      cloudYes: "Use the Cloud", cloudNo: "Cancel", cloudOn: "Messages now go to the paid Cloud (it sees what it runs). Tap Cloud ($) to go back to your PC.",
      pcOffline: "Your PC is offline; nothing was sent.", cloudReceipt: "Cloud", tokens: "tokens",
      err_no_cloud_budget: "No Cloud budget: subscribe to ORA's plan to send requests to the Cloud. Your PC still works as before.",
      appOffline: "You are offline. This is ORA's copy kept on this device; it reconnects when the network is back.",
      relVerified: "ORA web client, signed release", relReload: "Reload",
      relReady: "A new version of ORA, signed by ORA's release key, is ready. Reload to use it.",
      relUnsigned: "The server offered a version of ORA that is not signed by ORA's release key. It was not run; this device keeps its verified version.",
      relBadSignature: "The server offered a version of ORA whose signature is not ORA's release key's. It was not run; this device keeps its verified version.",
      relFiles: "The server is sending files that differ from ORA's signed release. They were not run; this device keeps its verified version.",
      relOlder: "The server offered an older version of ORA. It was not installed; this device keeps its verified version.",
      relNotKept: "This copy of ORA is not signed by ORA's release key, so it is not kept on this device: each visit runs what the server sends.",
      relNotKeptBad: "This copy of ORA carries a signature that is not ORA's release key's. Do not pair or sign in here.",
      relNoWorker: "This address cannot keep ORA on this device (it needs https), so each visit runs what the server sends.",
      pushApproval: "Approval needed", pushApprovalBody: "ORA on your PC is waiting for your answer.",
      pushApprovalTool: "{tool} — asked from {device}. Tap to answer.",
      pushNodeOffline: "Your PC is offline", pushNodeOfflineBody: "ORA on your PC has not been reachable for a while.",
      pushNodeOnline: "Your PC is back online", pushNodeOnlineBody: "ORA on your PC is reachable again.",
      pushBudget: "Cloud budget nearly spent", pushBudgetBody: "Most of this month's Cloud budget is used.",
      pushPaired: "A device was paired", pushPairedBody: "A new device can now use your ORA.",
      pushRevoked: "A device was revoked", pushRevokedBody: "A device can no longer use your ORA.",
      stop: "Stop", stopped: "Stopped.", stepOf: "Step {n} of {m}", planRevised: "plan revised",
      step_pending: "to do", step_running: "running", step_done: "done", step_failed: "failed",
      step_skipped: "skipped", step_cancelled: "cancelled",
      err_nothing_to_cancel: "There is nothing to stop: that answer has already finished.",
      err_private_profile: "This ORA is its owner's private profile: only the owner's own devices can use it. Ask the owner to share ORA from its shared profile.",
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
      localCodeUsed: "このサインイン用リンクは使用済みか期限切れです。トレイメニュー →「ブラウザで開く」からもう一度開いてください。",
      plainHome: "ホームネットワーク: この接続そのものは暗号化されていません（http）が、メッセージはエンドツーエンドで暗号化されています。外出先では https の Relay を使ってください。",
      plainPublic: "この Relay には、この PC とホームネットワークの外のアドレスへ暗号化されていない http で接続することになります。ORA は接続しません。何も送信していません。https の Relay を使ってください。",
      plainNotChosen: "この Relay はホームネットワーク上にありますが http で、PC がホームネットワーク・モードを提供していません。何も送信していません。PC の ORA の QR コードをもう一度読み取ってください。",
      targetPc: "PC", targetCloud: "クラウド（有料）", cloudTitle: "有料のクラウドに送信しますか？",
      cloudOffer: "PC がオフラインです。代わりにこのメッセージを ORA の有料クラウドに送ることができます。",
      cloudNotice: "クラウドはあなたの PC ではなく ORA のサーバーでリクエストを実行するため、実行する内容（メッセージとその返答）をクラウドは読むことができます。Relay からは引き続き読めません。リクエストごとにアカウントに課金されます。クラウドからあなたの PC やファイルにはアクセスできません。",
      cloudYes: "クラウドを使う", cloudNo: "キャンセル", cloudOn: "メッセージは有料クラウドに送られます（クラウドは実行内容を読めます）。PC に戻すには「クラウド（有料）」をタップしてください。",
      pcOffline: "PC がオフラインのため、送信していません。", cloudReceipt: "クラウド", tokens: "トークン",
      err_no_cloud_budget: "クラウドの予算がありません: クラウドにリクエストを送るには ORA のプランに登録してください。PC はこれまでどおり使えます。",
      appOffline: "オフラインです。この端末に保存された ORA を表示しています。ネットワークが戻ると再接続します。",
      relVerified: "ORA ウェブクライアント（署名済みリリース）", relReload: "再読み込み",
      relReady: "ORA のリリース鍵で署名された新しいバージョンの準備ができました。再読み込みすると使えます。",
      relUnsigned: "サーバーが ORA のリリース鍵で署名されていないバージョンを送ってきました。実行していません。この端末は検証済みのバージョンを使い続けます。",
      relBadSignature: "サーバーが ORA のリリース鍵ではない署名の付いたバージョンを送ってきました。実行していません。この端末は検証済みのバージョンを使い続けます。",
      relFiles: "サーバーが ORA の署名済みリリースと異なるファイルを送っています。実行していません。この端末は検証済みのバージョンを使い続けます。",
      relOlder: "サーバーが古いバージョンの ORA を送ってきました。インストールしていません。この端末は検証済みのバージョンを使い続けます。",
      relNotKept: "この ORA は ORA のリリース鍵で署名されていないため、この端末には保存されません。開くたびにサーバーが送るものが実行されます。",
      relNotKeptBad: "この ORA には ORA のリリース鍵ではない署名が付いています。ここでペアリングやサインインをしないでください。",
      relNoWorker: "このアドレスでは ORA をこの端末に保存できません（https が必要です）。開くたびにサーバーが送るものが実行されます。",
      pushApproval: "承認が必要です", pushApprovalBody: "PC の ORA があなたの回答を待っています。",
      pushApprovalTool: "{tool}（依頼元: {device}）。タップして回答してください。",
      pushNodeOffline: "PC がオフラインです", pushNodeOfflineBody: "PC の ORA にしばらく接続できていません。",
      pushNodeOnline: "PC がオンラインに戻りました", pushNodeOnlineBody: "PC の ORA に再び接続できます。",
      pushBudget: "クラウドの予算が残りわずかです", pushBudgetBody: "今月のクラウド予算の大部分を使いました。",
      pushPaired: "デバイスがペアリングされました", pushPairedBody: "新しいデバイスがあなたの ORA を使えるようになりました。",
      pushRevoked: "デバイスが取り消されました", pushRevokedBody: "デバイスがあなたの ORA を使えなくなりました。",
      stop: "停止", stopped: "停止しました。", stepOf: "ステップ {n} / {m}", planRevised: "計画を修正しました",
      step_pending: "未着手", step_running: "実行中", step_done: "完了", step_failed: "失敗",
      step_skipped: "スキップ", step_cancelled: "取り消し",
      err_nothing_to_cancel: "停止するものはありません。その回答はすでに終わっています。",
      err_private_profile: "この ORA は所有者のプライベートプロファイルです。所有者本人のデバイスだけが使えます。共有プロファイルから共有してもらってください。",
    },
  };
  // Typed-code pairing (SPAKE2) and the Cloud's release-signed key.
  Object.assign(STRINGS.en, {
    codeInvalid: "A pairing code has 10 letters and digits, like 7KQ2M-XH9PD. Check what you typed.",
    codeWrong: "That code did not match your PC's, so nothing was paired. Check the code shown on your PC and type it again. (If it keeps failing although the code is right, the Relay may be tampering with the pairing.)",
    codeLocked: "This code is locked after too many wrong attempts. Make a new code on your PC.",
    codeUnknown: "No open pairing has this code. Check it, or make a new code on your PC.",
    cloudKeyRefused: "The Cloud's key was not signed by ORA, so nothing was sent to the Cloud. The Relay may be trying to read your Cloud requests.",
  });
  Object.assign(STRINGS.ja, {
    codeInvalid: "ペアリングコードは 7KQ2M-XH9PD のような英数字 10 文字です。入力内容を確認してください。",
    codeWrong: "コードが PC のものと一致しなかったため、ペアリングしていません。PC に表示されたコードを確認して、もう一度入力してください。（コードが正しいのに失敗が続く場合は、Relay がペアリングを改ざんしている可能性があります。）",
    codeLocked: "誤った入力が多すぎたため、このコードはロックされました。PC で新しいコードを作ってください。",
    codeUnknown: "このコードのペアリングは見つかりません。コードを確認するか、PC で新しいコードを作ってください。",
    cloudKeyRefused: "クラウドの鍵が ORA の署名付きではなかったため、クラウドには何も送信していません。Relay がクラウドへのリクエストを読もうとしている可能性があります。",
  });
  // Also loaded by the service worker (sw.js), which has no localStorage.
  const stored = typeof localStorage !== "undefined" ? localStorage.getItem("ora.lang") : null;
  let lang = (stored || navigator.language || "en").toLowerCase().startsWith("ja") ? "ja" : "en";
  function t(key) { return (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.en[key] || key; }
  function apply() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    const button = document.getElementById("lang");
    if (button) button.textContent = lang === "ja" ? "English" : "日本語";
  }
  function toggle() { lang = lang === "ja" ? "en" : "ja"; localStorage.setItem("ora.lang", lang); apply(); }
  function tr(language, key) { return (STRINGS[language] && STRINGS[language][key]) || STRINGS.en[key] || key; }
  root.OraI18n = { t, tr, apply, toggle, get lang() { return lang; } };
})(self);
