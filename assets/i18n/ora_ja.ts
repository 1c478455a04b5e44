<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="ja_JP">
<context>
    <name>ApprovalDialog</name>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="37" />
        <source>ORA needs your approval</source>
        <translation>ORA があなたの承認を求めています</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="41" />
        <source>&lt;b&gt;%1&lt;/b&gt; wants to run &lt;b&gt;%2&lt;/b&gt; (%3 risk)</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; が &lt;b&gt;%2&lt;/b&gt; を実行しようとしています（リスク: %3）</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="47" />
        <source>this PC</source>
        <translation>この PC</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="49" />
        <source>Asked from: %1</source>
        <translation>依頼元: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="90" />
        <source>&apos;%1&apos; could send data out, and untrusted content (%2) is in this conversation: it may be following instructions hidden there.</source>
        <translation>「%1」はデータを外部に送信できます。この会話には信頼できない内容（%2）が含まれており、そこに隠された指示に従っている可能性があります。</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="90" />
        <source>Sends to: %1</source>
        <translation>送信先: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="90" />
        <source>Data sent: %1</source>
        <translation>送信されるデータ: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="90" />
        <source>Private data read in this turn (it could be in what is sent):</source>
        <translation>この会話で読み取られた個人データ（送信内容に含まれる可能性があります）:</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="54" />
        <source>It runs only if you approve it here or on another of your devices.</source>
        <translation>ここか、あなたの別の端末で承認した場合にのみ実行されます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="60" />
        <source>Approve</source>
        <translation>承認</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="61" />
        <source>Deny</source>
        <translation>拒否</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="94" />
        <source>Denied automatically in %1 s</source>
        <translation>%1 秒後に自動的に拒否されます</translation>
    </message>
</context>
<context>
    <name>ChatWindow</name>
    <message>
        <location filename="../../app/tray/chat_window.py" line="40"/>
        <source>Thinking…</source>
        <translation>考えています…</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="26" />
        <source>ORA chat</source>
        <translation>ORA チャット</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="30" />
        <source>Message ORA…</source>
        <translation>ORA にメッセージ…</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="31" />
        <source>Send</source>
        <translation>送信</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="48" />
        <source>You</source>
        <translation>あなた</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>to do</source>
        <translation>未着手</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>running</source>
        <translation>実行中</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>done</source>
        <translation>完了</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>failed</source>
        <translation>失敗</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>skipped</source>
        <translation>スキップ</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>cancelled</source>
        <translation>取り消し</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>Step %1 of %2</source>
        <translation>ステップ %1 / %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>plan revised</source>
        <translation>計画を修正しました</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="1" />
        <source>Stopped.</source>
        <translation>停止しました。</translation>
    </message>
</context>
<context>
    <name>DevicesDialog</name>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="37" />
        <source>Devices</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="41" />
        <source>Name</source>
        <translation>名前</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="41" />
        <source>Role</source>
        <translation>役割</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="41" />
        <source>Last seen</source>
        <translation>最終接続</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="52" />
        <source>revoked</source>
        <translation>取り消し済み</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="56" />
        <source>Revoke</source>
        <translation>取り消す</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="42" />
        <source>Notifications</source>
        <translation>通知</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="80" />
        <source>on</source>
        <translation>オン</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="80" />
        <source>off</source>
        <translation>オフ</translation>
    </message>
</context>
<context>
    <name>PairingDialog</name>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="102"/>
        <source>Paired: %1</source>
        <translation>ペアリングしました: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="104"/>
        <source>You can now use ORA on that device.</source>
        <translation>そのデバイスで ORA を使えるようになりました。</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="34" />
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="40" />
        <source>Scan with your phone's camera</source>
        <translation>スマホのカメラで読み取ってください</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="42" />
        <source>Let your friend scan this (guest access)</source>
        <translation>友だちに読み取ってもらってください（ゲストとして利用）</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="51" />
        <source>New code</source>
        <translation>新しいコード</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="53" />
        <source>No camera? Show a code to type</source>
        <translation>カメラがない場合: 入力用のコードを表示</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="84" />
        <source>On the other device, open the ORA page and type:</source>
        <translation>もう一方の端末で ORA のページを開き、次のコードを入力してください:</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="94" />
        <source>Valid for %1:%2 — works once</source>
        <translation>有効期限 %1:%2 — 1 回だけ使えます</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="101" />
        <source>This code has expired.</source>
        <translation>このコードは期限切れです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="103" />
        <source>Press New code to pair.</source>
        <translation>「新しいコード」を押してペアリングしてください。</translation>
    </message>
</context>
<context>
    <name>ProvidersDialog</name>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="41" />
        <source>AI providers</source>
        <translation>AI プロバイダー</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="47" />
        <source>Save key</source>
        <translation>キーを保存</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="48" />
        <source>Test connection</source>
        <translation>接続テスト</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="52" />
        <source>Key name</source>
        <translation>キーの名前</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="53" />
        <source>API key</source>
        <translation>API キー</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="59" />
        <source>Keys are stored in: %1</source>
        <translation>キーの保存先: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="72" />
        <source>enabled</source>
        <translation>有効</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="72" />
        <source>disabled</source>
        <translation>無効</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="85" />
        <source>Enter the key name (key_ref in config.toml) and the key.</source>
        <translation>キーの名前（config.toml の key_ref）とキーを入力してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="1" />
        <source>Use in the last 30 days (recorded on this PC):</source>
        <translation>過去 30 日間の利用状況（この PC に記録）：</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="1" />
        <source>no calls yet</source>
        <translation>まだ呼び出しはありません</translation>
    </message>
    <message>
        <source>No AI provider yet. Add one to config.toml ([[providers]] with base_url, model and key_ref), or start a local model server (Ollama, LM Studio), then open this window again. ORA still answers explicit commands such as /help meanwhile.</source>
        <translation>AI プロバイダーはまだありません。config.toml に追加するか（base_url、model、key_ref を持つ [[providers]]）、ローカルのモデルサーバー（Ollama、LM Studio）を起動してから、このウィンドウを開き直してください。それまでも ORA は /help などの明示的なコマンドに答えます。</translation>
    </message>
</context>
<context>
    <name>TrayApp</name>
    <message>
        <location filename="../../app/tray/app.py" line="119" />
        <source>Open chat</source>
        <translation>チャットを開く</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="120" />
        <source>Open in browser</source>
        <translation>ブラウザで開く</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="121" />
        <location filename="../../app/tray/app.py" line="218" />
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="122" />
        <source>Share with a friend</source>
        <translation>友だちと共有</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="123" />
        <source>Devices</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="124" />
        <location filename="../../app/tray/app.py" line="167" />
        <source>Approvals</source>
        <translation>承認待ち</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="125" />
        <source>Providers</source>
        <translation>プロバイダー</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="126" />
        <source>Profile</source>
        <translation>プロファイル</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="135" />
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="140" />
        <source>Follow the system</source>
        <translation>システムに合わせる</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="150" />
        <source>Check for updates</source>
        <translation>アップデートを確認</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="152" />
        <source>Quit</source>
        <translation>終了</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="165" />
        <source>Approvals (%1)</source>
        <translation>承認待ち（%1）</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="170" />
        <source>ORA — %1 — %2</source>
        <translation>ORA — %1 — %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="178" />
        <source>connected</source>
        <translation>接続中</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="179" />
        <source>connecting</source>
        <translation>接続しています</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="180" />
        <source>offline</source>
        <translation>オフライン</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="181" />
        <source>private</source>
        <translation>個人</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="182" />
        <source>shared</source>
        <translation>共有</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="219" />
        <source>'%1' wants to pair as %2.
Does its screen show this code?

%3</source>
        <translation>「%1」が %2 としてペアリングを求めています。
その画面に次のコードが表示されていますか?

%3</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="239" />
        <location filename="../../app/tray/app.py" line="271" />
        <source>Cannot pair now: the Relay is not reachable.</source>
        <translation>今はペアリングできません: Relay に接続できません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="297" />
        <source>ORA needs your approval</source>
        <translation>ORA が承認を求めています</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="322" />
        <source>Nothing is waiting for your approval.</source>
        <translation>承認待ちのものはありません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="380" />
        <source>Key saved.</source>
        <translation>キーを保存しました。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="411" />
        <source>%1 did not answer: %2</source>
        <translation>%1 から応答がありません: %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="415" />
        <source>%1 answered: %2</source>
        <translation>%1 の応答: %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="460" />
        <source>The local server is not running (its port is in use); see the log.</source>
        <translation>ローカルサーバーが起動していません（ポートが使用中です）。ログを確認してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="477" />
        <source>running</source>
        <translation>実行中</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="505" />
        <source>Updates are turned off. Set [updates] url in config.toml to turn them on.</source>
        <translation>アップデートは無効です。有効にするには config.toml の [updates] url を設定してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="514" />
        <location filename="../../app/tray/app.py" line="587" />
        <location filename="../../app/tray/app.py" line="598" />
        <source>The update was refused: %1</source>
        <translation>アップデートを拒否しました: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="519" />
        <source>Could not check for updates: %1</source>
        <translation>アップデートを確認できませんでした: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="524" />
        <source>ORA is up to date (%1).</source>
        <translation>ORA は最新です（%1）。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="539" />
        <location filename="../../app/tray/app.py" line="543" />
        <location filename="../../app/tray/app.py" line="556" />
        <source>Update available: ORA %1</source>
        <translation>アップデートがあります: ORA %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="558" />
        <source>Install and restart</source>
        <translation>インストールして再起動</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="559" />
        <source>Later</source>
        <translation>あとで</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="568" />
        <source>Downloading ORA %1…</source>
        <translation>ORA %1 をダウンロードしています…</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="589" />
        <source>Could not download the update: %1</source>
        <translation>アップデートをダウンロードできませんでした: %1</translation>
    </message>
    <message>
        <source>ORA is already running; here it is.</source>
        <translation>ORA はすでに起動しています。こちらです。</translation>
    </message>
    <message>
        <source>ORA is already running for the %1 profile in another window.</source>
        <translation>%1 プロファイルの ORA は別のウィンドウですでに起動しています。</translation>
    </message>
    <message>
        <source>ORA will not connect to the Relay at %1 over plain http: the connection would not be encrypted beyond your PC. Set an https:// relay_url.</source>
        <translation>Relay %1 には暗号化されていない http で接続することになるため、ORA は接続しません。https:// の relay_url を設定してください。</translation>
    </message>
    <message>
        <source>The Relay at %1 is on a home-network address, but home-network mode was not chosen, so ORA will not use plain http to it. Set home_network = true in config.toml (or use https).</source>
        <translation>Relay %1 はホームネットワーク上のアドレスですが、ホームネットワーク・モードが選ばれていないため、ORA は暗号化されていない http では接続しません。config.toml に home_network = true を設定するか、https を使ってください。</translation>
    </message>
    <message>
        <source>Home network: phones on this network pair through %1. The connection is not encrypted (plain http); your messages are end-to-end encrypted.</source>
        <translation>ホームネットワーク: このネットワーク上のスマートフォンは %1 を通してペアリングします。接続そのものは暗号化されていません（http）が、メッセージはエンドツーエンドで暗号化されています。</translation>
    </message>
</context>
<context>
    <name>TrayLaunch</name>
    <message>
        <location filename="../../app/tray/launch.py" line="34" />
        <source>ORA — starting…</source>
        <translation>ORA — 起動しています…</translation>
    </message>
</context>
<context>
    <name>ApprovalsController</name>
    <message>
        <source>ORA needs your approval</source>
        <translation>ORA があなたの承認を求めています</translation>
    </message>
    <message>
        <source>Nothing is waiting for your approval.</source>
        <translation>承認待ちのものはありません。</translation>
    </message>
</context>
<context>
    <name>PairingController</name>
    <message>
        <location filename="../../app/tray/pairing_controller.py" line="68" />
        <source>This is your private profile: only your own devices can pair with it. Share ORA with friends from the shared profile.</source>
        <translation>これはプライベートプロファイルです。ペアリングできるのはあなた自身のデバイスだけです。友だちとは共有プロファイルから共有してください。</translation>
    </message>
    <message>
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <source>'%1' wants to pair as %2.
Does its screen show this code?

%3</source>
        <translation>「%1」が %2 としてペアリングを求めています。
その画面に次のコードが表示されていますか?

%3</translation>
    </message>
    <message>
        <source>Cannot pair now: the Relay is not reachable.</source>
        <translation>今はペアリングできません: Relay に接続できません。</translation>
    </message>
</context>
<context>
    <name>ProvidersController</name>
    <message>
        <source>Key saved.</source>
        <translation>キーを保存しました。</translation>
    </message>
    <message>
        <source>The key was not saved: %1</source>
        <translation>キーを保存できませんでした: %1</translation>
    </message>
    <message>
        <source>%1 answered: %2</source>
        <translation>%1 の応答: %2</translation>
    </message>
    <message>
        <source>%1 did not answer: %2</source>
        <translation>%1 から応答がありません: %2</translation>
    </message>
</context>
<context>
    <name>UpdateController</name>
    <message>
        <source>Updates are turned off. Set [updates] url in config.toml to turn them on.</source>
        <translation>アップデートは無効です。有効にするには config.toml の [updates] url を設定してください。</translation>
    </message>
    <message>
        <source>ORA is up to date (%1).</source>
        <translation>ORA は最新です（%1）。</translation>
    </message>
    <message>
        <source>The update was refused: %1</source>
        <translation>アップデートを拒否しました: %1</translation>
    </message>
    <message>
        <source>Could not check for updates: %1</source>
        <translation>アップデートを確認できませんでした: %1</translation>
    </message>
    <message>
        <source>Update available: ORA %1</source>
        <translation>アップデートがあります: ORA %1</translation>
    </message>
    <message>
        <source>Install and restart</source>
        <translation>インストールして再起動</translation>
    </message>
    <message>
        <source>Later</source>
        <translation>あとで</translation>
    </message>
    <message>
        <source>Downloading ORA %1…</source>
        <translation>ORA %1 をダウンロードしています…</translation>
    </message>
    <message>
        <source>Could not download the update: %1</source>
        <translation>アップデートをダウンロードできませんでした: %1</translation>
    </message>
</context>
</TS>