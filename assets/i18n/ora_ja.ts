<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja_JP">
<context>
    <name>ApprovalDialog</name>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="39"/>
        <source>ORA needs your approval</source>
        <translation>ORA があなたの承認を求めています</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; wants to run &lt;b&gt;%2&lt;/b&gt; (%3 risk)</source>
        <translation type="vanished">&lt;b&gt;%1&lt;/b&gt; が &lt;b&gt;%2&lt;/b&gt; を実行しようとしています（リスク: %3）</translation>
    </message>
    <message>
        <source>this PC</source>
        <translation type="vanished">この PC</translation>
    </message>
    <message>
        <source>Asked from: %1</source>
        <translation type="vanished">依頼元: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="44"/>
        <source>&lt;b&gt;%1&lt;/b&gt; (risk: %2)</source>
        <translation>&lt;b&gt;%1&lt;/b&gt;（リスク: %2）</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="105"/>
        <source>&apos;%1&apos; could send data out, and untrusted content (%2) is in this conversation: it may be following instructions hidden there.</source>
        <translation>「%1」はデータを外部に送信できます。この会話には信頼できない内容（%2）が含まれており、そこに隠された指示に従っている可能性があります。</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="110"/>
        <source>Sends to: %1</source>
        <translation>送信先: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="113"/>
        <source>Data sent: %1</source>
        <translation>送信されるデータ: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="116"/>
        <source>Private data read in this turn (it could be in what is sent):</source>
        <translation>この会話で読み取られた個人データ（送信内容に含まれる可能性があります）:</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="64"/>
        <source>It runs only if you approve it here or on another of your devices.</source>
        <translation>ここか、あなたの別の端末で承認した場合にのみ実行されます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="70"/>
        <source>Approve</source>
        <translation>承認</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="71"/>
        <source>Deny</source>
        <translation>拒否</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="140"/>
        <source>Denied automatically in %1 s</source>
        <translation>%1 秒後に自動的に拒否されます</translation>
    </message>
</context>
<context>
    <name>ApprovalsController</name>
    <message>
        <location filename="../../app/tray/approvals_controller.py" line="47"/>
        <source>ORA needs your approval</source>
        <translation>ORA があなたの承認を求めています</translation>
    </message>
    <message>
        <location filename="../../app/tray/approvals_controller.py" line="73"/>
        <source>Nothing is waiting for your approval.</source>
        <translation>承認待ちのものはありません。</translation>
    </message>
</context>
<context>
    <name>BackupController</name>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="74"/>
        <source>Restore from a backup…</source>
        <translation>バックアップから復元…</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="84"/>
        <source>Backing up… %1%</source>
        <translation>バックアップ中… %1%</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="88"/>
        <source>Turn on backup…</source>
        <translation>バックアップをオンにする…</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="90"/>
        <source>Back up now (the last backup failed)</source>
        <translation>今すぐバックアップ（前回のバックアップは失敗しました）</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="92"/>
        <source>Back up now</source>
        <translation>今すぐバックアップ</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="95"/>
        <source>Last backup: %1</source>
        <translation>前回のバックアップ: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="142"/>
        <source>Backup is on. The first backup starts now.</source>
        <translation>バックアップをオンにしました。最初のバックアップを今から始めます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="202"/>
        <source>Backup done: snapshot %1, %2 KB sent.</source>
        <translation>バックアップ完了: スナップショット %1、%2 KB を送信しました。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="214"/>
        <source>Backup failed: %1</source>
        <translation>バックアップに失敗しました: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="223"/>
        <source>That is not a recovery phrase: check each of the 12 words (one is misspelt or missing).</source>
        <translation>復元フレーズではありません。12 個の単語をひとつずつ確かめてください（つづりの誤りか抜けがあります）。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="227"/>
        <source>This recovery phrase opens no backup at this service.</source>
        <translation>この復元フレーズで開けるバックアップは、このサービスにはありません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="229"/>
        <source>The backup did not check out (%1); nothing was restored.</source>
        <translation>バックアップの検証に失敗しました（%1）。何も復元していません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="234"/>
        <source>Your backup is over its storage quota; nothing more was stored. Older snapshots are pruned daily, or raise the quota of your account.</source>
        <translation>バックアップが保存容量の上限を超えたため、これ以上は保存していません。古いスナップショットは毎日整理されます。アカウントの容量を増やすこともできます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="238"/>
        <source>The backup service cannot be reached; ORA will try again later.</source>
        <translation>バックアップサービスに接続できません。ORA が後でもう一度試します。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="240"/>
        <source>Backup cannot run yet: %1</source>
        <translation>まだバックアップできません: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="345"/>
        <source>Restored your backup from snapshot %1.</source>
        <translation>スナップショット %1 からバックアップを復元しました。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="349"/>
        <source>Your devices must pair again with this PC (%1).</source>
        <translation>端末はこの PC ともう一度ペアリングする必要があります（%1 台）。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="301"/>
        <source>This profile already has notes, history or an audit log. Replace all of it with your backup&apos;s snapshot %1? What is here now will be lost.</source>
        <translation>このプロファイルにはすでにメモ・履歴・監査ログがあります。すべてをバックアップのスナップショット %1 で置き換えますか？ 今ある内容は失われます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="306"/>
        <source>Replace with the backup</source>
        <translation>バックアップで置き換える</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="308"/>
        <source>Keep what is here</source>
        <translation>今の内容を残す</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="314"/>
        <source>Nothing was restored; this profile is as it was.</source>
        <translation>何も復元していません。このプロファイルは元のままです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_controller.py" line="1" />
        <source>This backup was restored on another PC and now belongs to it. Turn backup on again here, with a new recovery phrase, to back this PC up.</source>
        <translation>このバックアップは別の PC で復元され、今はその PC のものです。この PC をバックアップするには、新しい復元フレーズでバックアップをもう一度オンにしてください。</translation>
    </message>
</context>
<context>
    <name>ChatWindow</name>
    <message>
        <location filename="../../app/tray/chat_window.py" line="50"/>
        <source>Thinking…</source>
        <translation>考えています…</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="31"/>
        <source>ORA chat</source>
        <translation>ORA チャット</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="42"/>
        <source>Message ORA…</source>
        <translation>ORA にメッセージ…</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="43"/>
        <source>Send</source>
        <translation>送信</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="73"/>
        <source>You</source>
        <translation>あなた</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="44"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="132"/>
        <source>to do</source>
        <translation>未着手</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="133"/>
        <source>running</source>
        <translation>実行中</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="134"/>
        <source>done</source>
        <translation>完了</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="135"/>
        <source>failed</source>
        <translation>失敗</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="136"/>
        <source>skipped</source>
        <translation>スキップ</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="137"/>
        <source>cancelled</source>
        <translation>取り消し</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="140"/>
        <source>Step %1 of %2</source>
        <translation>ステップ %1 / %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/chat_window.py" line="145"/>
        <source>plan revised</source>
        <translation>計画を修正しました</translation>
    </message>
    <message>
        <source>Stopped.</source>
        <translation type="vanished">停止しました。</translation>
    </message>
</context>
<context>
    <name>DevicesDialog</name>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="42"/>
        <source>Devices</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="47"/>
        <source>Name</source>
        <translation>名前</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="48"/>
        <source>Role</source>
        <translation>役割</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="49"/>
        <source>Last seen</source>
        <translation>最終接続</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="70"/>
        <source>owner</source>
        <translation>所有者</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="70"/>
        <source>guest</source>
        <translation>ゲスト</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="76"/>
        <source>revoked</source>
        <translation>取り消し済み</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="79"/>
        <source>online now</source>
        <translation>現在オンライン</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="84"/>
        <source>Rename</source>
        <translation>名前を変更</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="88"/>
        <source>Revoke</source>
        <translation>取り消す</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="51"/>
        <source>Notifications</source>
        <translation>通知</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="128"/>
        <source>on</source>
        <translation>オン</translation>
    </message>
    <message>
        <location filename="../../app/tray/devices_dialog.py" line="128"/>
        <source>off</source>
        <translation>オフ</translation>
    </message>
</context>
<context>
    <name>PairingController</name>
    <message>
        <location filename="../../app/tray/pairing_controller.py" line="78"/>
        <source>This is your private profile: only your own devices can pair with it. Share ORA with friends from the shared profile.</source>
        <translation>これはプライベートプロファイルです。ペアリングできるのはあなた自身のデバイスだけです。友だちとは共有プロファイルから共有してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/pairing_controller.py" line="59"/>
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/pairing_controller.py" line="60"/>
        <source>&apos;%1&apos; wants to pair as %2.
Does its screen show this code?

%3</source>
        <translation>「%1」が %2 としてペアリングを求めています。
その画面に次のコードが表示されていますか?

%3</translation>
    </message>
    <message>
        <location filename="../../app/tray/pairing_controller.py" line="84"/>
        <source>Cannot pair now: the Relay is not reachable.</source>
        <translation>今はペアリングできません: Relay に接続できません。</translation>
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
        <location filename="../../app/tray/qr_dialog.py" line="34"/>
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="40"/>
        <source>Scan with your phone&apos;s camera</source>
        <translation>スマホのカメラで読み取ってください</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="42"/>
        <source>Let your friend scan this (guest access)</source>
        <translation>友だちに読み取ってもらってください（ゲストとして利用）</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="51"/>
        <source>New code</source>
        <translation>新しいコード</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="53"/>
        <source>No camera? Show a code to type</source>
        <translation>カメラがない場合: 入力用のコードを表示</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="93"/>
        <source>On the other device, open the ORA page and type:</source>
        <translation>もう一方の端末で ORA のページを開き、次のコードを入力してください:</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="115"/>
        <source>Valid for %1:%2 — works once</source>
        <translation>有効期限 %1:%2 — 1 回だけ使えます</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="122"/>
        <source>This code has expired.</source>
        <translation>このコードは期限切れです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="124"/>
        <source>Press New code to pair.</source>
        <translation>「新しいコード」を押してペアリングしてください。</translation>
    </message>
</context>
<context>
    <name>PhraseDialog</name>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="40"/>
        <location filename="../../app/tray/backup_dialog.py" line="109"/>
        <source>Turn on backup</source>
        <translation>バックアップをオンにする</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="54"/>
        <source>&lt;b&gt;Your recovery phrase.&lt;/b&gt; Write these 12 words down (or print them) and keep them safe. They are the only way to read your backup, on this PC or a new one: ORA cannot show them again, and nobody can recover them for you.</source>
        <translation>&lt;b&gt;あなたの復元フレーズです。&lt;/b&gt;この 12 個の単語を書き留めて（または印刷して）、安全に保管してください。この PC でも新しい PC でも、バックアップを読めるのはこのフレーズだけです。ORA は二度と表示できず、誰も代わりに取り戻せません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="73"/>
        <source>Include my API keys in the backup</source>
        <translation>API キーもバックアップに含める</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="76"/>
        <source>Nothing leaves this PC until you confirm on the next page.</source>
        <translation>次のページで確認するまで、何もこの PC の外に送りません。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="79"/>
        <source>Print…</source>
        <translation>印刷…</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="81"/>
        <source>I wrote it down</source>
        <translation>書き留めました</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="93"/>
        <source>To be sure you have it, type these words from your phrase.</source>
        <translation>控えがあることを確かめるため、フレーズの次の単語を入力してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="100"/>
        <source>Word %1</source>
        <translation>%1 番目の単語</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="107"/>
        <source>Show the phrase again</source>
        <translation>フレーズをもう一度表示</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="128"/>
        <source>Those words do not match your phrase. Check what you wrote down, or show the phrase again. Backup stays off until they match.</source>
        <translation>入力した単語がフレーズと一致しません。書き留めたものを確かめるか、フレーズをもう一度表示してください。一致するまでバックアップはオフのままです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="142"/>
        <source>ORA recovery phrase: keep this page safe; it opens your backup.</source>
        <translation>ORA 復元フレーズ: この紙は大切に保管してください。バックアップを開く鍵です。</translation>
    </message>
</context>
<context>
    <name>ProvidersController</name>
    <message>
        <location filename="../../app/tray/providers_controller.py" line="68"/>
        <source>Key saved.</source>
        <translation>キーを保存しました。</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_controller.py" line="73"/>
        <source>The key was not saved: %1</source>
        <translation>キーを保存できませんでした: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_controller.py" line="84"/>
        <source>%1 answered: %2</source>
        <translation>%1 の応答: %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_controller.py" line="90"/>
        <source>%1 did not answer: %2</source>
        <translation>%1 から応答がありません: %2</translation>
    </message>
</context>
<context>
    <name>ProvidersDialog</name>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="43"/>
        <source>AI providers</source>
        <translation>AI プロバイダー</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="62"/>
        <source>Save key</source>
        <translation>キーを保存</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="63"/>
        <source>Test connection</source>
        <translation>接続テスト</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="69"/>
        <source>Key name</source>
        <translation>キーの名前</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="70"/>
        <source>API key</source>
        <translation>API キー</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="78"/>
        <source>Keys are stored in: %1</source>
        <translation>キーの保存先: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="102"/>
        <source>enabled</source>
        <translation>有効</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="102"/>
        <source>disabled</source>
        <translation>無効</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="122"/>
        <source>Enter the key name (key_ref in config.toml) and the key.</source>
        <translation>キーの名前（config.toml の key_ref）とキーを入力してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="110"/>
        <source>Use in the last 30 days (recorded on this PC):</source>
        <translation>過去 30 日間の利用状況（この PC に記録）：</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="111"/>
        <source>no calls yet</source>
        <translation>まだ呼び出しはありません</translation>
    </message>
    <message>
        <location filename="../../app/tray/providers_dialog.py" line="52"/>
        <source>No AI provider yet. Add one to config.toml ([[providers]] with base_url, model and key_ref), or start a local model server (Ollama, LM Studio), then open this window again. ORA still answers explicit commands such as /help meanwhile.</source>
        <translation>AI プロバイダーはまだありません。config.toml に追加するか（base_url、model、key_ref を持つ [[providers]]）、ローカルのモデルサーバー（Ollama、LM Studio）を起動してから、このウィンドウを開き直してください。それまでも ORA は /help などの明示的なコマンドに答えます。</translation>
    </message>
</context>
<context>
    <name>RestoreDialog</name>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="170"/>
        <source>Restore from a backup</source>
        <translation>バックアップから復元</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="175"/>
        <source>&lt;b&gt;Had ORA on another PC?&lt;/b&gt; Bring back your notes, history and settings from your encrypted backup with your 12-word recovery phrase. What this profile holds now is replaced.</source>
        <translation>&lt;b&gt;別の PC で ORA を使っていましたか？&lt;/b&gt; 12 個の単語の復元フレーズで、暗号化されたバックアップからメモ・履歴・設定を取り戻せます。このプロファイルの今の内容は置き換えられます。</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="184"/>
        <source>the 12 words, separated by spaces</source>
        <translation>12 個の単語（スペース区切り）</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="186"/>
        <source>Your ORA service</source>
        <translation>ORA サービス</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="187"/>
        <source>Recovery phrase</source>
        <translation>復元フレーズ</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="190"/>
        <source>Keep my paired devices (only if this is the same PC, not a new one)</source>
        <translation>ペアリング済みの端末を残す（新しい PC ではなく同じ PC の場合のみ）</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="199"/>
        <source>Start fresh</source>
        <translation>新しく始める</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="201"/>
        <source>Restore</source>
        <translation>復元</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="217"/>
        <source>Looking for your backup…</source>
        <translation>バックアップを探しています…</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="226"/>
        <source>Restoring… %1 of %2 files</source>
        <translation>復元中… %2 ファイル中 %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/backup_dialog.py" line="241"/>
        <source>Close</source>
        <translation>閉じる</translation>
    </message>
</context>
<context>
    <name>TrayApp</name>
    <message>
        <location filename="../../app/tray/app.py" line="130"/>
        <source>Open chat</source>
        <translation>チャットを開く</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="131"/>
        <source>Open in browser</source>
        <translation>ブラウザで開く</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="132"/>
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="133"/>
        <source>Share with a friend</source>
        <translation>友だちと共有</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="134"/>
        <source>Devices</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="135"/>
        <location filename="../../app/tray/app.py" line="179"/>
        <source>Approvals</source>
        <translation>承認待ち</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="136"/>
        <source>Providers</source>
        <translation>プロバイダー</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="138"/>
        <source>Profile</source>
        <translation>プロファイル</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="147"/>
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="152"/>
        <source>Follow the system</source>
        <translation>システムに合わせる</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="162"/>
        <source>Check for updates</source>
        <translation>アップデートを確認</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="164"/>
        <source>Quit</source>
        <translation>終了</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="177"/>
        <source>Approvals (%1)</source>
        <translation>承認待ち（%1）</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="182"/>
        <source>ORA — %1 — %2</source>
        <translation>ORA — %1 — %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="192"/>
        <source>connected</source>
        <translation>接続中</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="193"/>
        <source>connecting</source>
        <translation>接続しています</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="194"/>
        <source>offline</source>
        <translation>オフライン</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="195"/>
        <source>private</source>
        <translation>個人</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="196"/>
        <source>shared</source>
        <translation>共有</translation>
    </message>
    <message>
        <source>&apos;%1&apos; wants to pair as %2.
Does its screen show this code?

%3</source>
        <translation type="vanished">「%1」が %2 としてペアリングを求めています。
その画面に次のコードが表示されていますか?

%3</translation>
    </message>
    <message>
        <source>Cannot pair now: the Relay is not reachable.</source>
        <translation type="vanished">今はペアリングできません: Relay に接続できません。</translation>
    </message>
    <message>
        <source>ORA needs your approval</source>
        <translation type="vanished">ORA が承認を求めています</translation>
    </message>
    <message>
        <source>Nothing is waiting for your approval.</source>
        <translation type="vanished">承認待ちのものはありません。</translation>
    </message>
    <message>
        <source>Key saved.</source>
        <translation type="vanished">キーを保存しました。</translation>
    </message>
    <message>
        <source>%1 did not answer: %2</source>
        <translation type="vanished">%1 から応答がありません: %2</translation>
    </message>
    <message>
        <source>%1 answered: %2</source>
        <translation type="vanished">%1 の応答: %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="310"/>
        <source>The local server is not running (its port is in use); see the log.</source>
        <translation>ローカルサーバーが起動していません（ポートが使用中です）。ログを確認してください。</translation>
    </message>
    <message>
        <source>running</source>
        <translation type="vanished">実行中</translation>
    </message>
    <message>
        <source>Updates are turned off. Set [updates] url in config.toml to turn them on.</source>
        <translation type="vanished">アップデートは無効です。有効にするには config.toml の [updates] url を設定してください。</translation>
    </message>
    <message>
        <source>The update was refused: %1</source>
        <translation type="vanished">アップデートを拒否しました: %1</translation>
    </message>
    <message>
        <source>Could not check for updates: %1</source>
        <translation type="vanished">アップデートを確認できませんでした: %1</translation>
    </message>
    <message>
        <source>ORA is up to date (%1).</source>
        <translation type="vanished">ORA は最新です（%1）。</translation>
    </message>
    <message>
        <source>Update available: ORA %1</source>
        <translation type="vanished">アップデートがあります: ORA %1</translation>
    </message>
    <message>
        <source>Install and restart</source>
        <translation type="vanished">インストールして再起動</translation>
    </message>
    <message>
        <source>Later</source>
        <translation type="vanished">あとで</translation>
    </message>
    <message>
        <source>Downloading ORA %1…</source>
        <translation type="vanished">ORA %1 をダウンロードしています…</translation>
    </message>
    <message>
        <source>Could not download the update: %1</source>
        <translation type="vanished">アップデートをダウンロードできませんでした: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="213"/>
        <source>ORA is already running; here it is.</source>
        <translation>ORA はすでに起動しています。こちらです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="370"/>
        <source>ORA is already running for the %1 profile in another window.</source>
        <translation>%1 プロファイルの ORA は別のウィンドウですでに起動しています。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="243"/>
        <source>ORA will not connect to the Relay at %1 over plain http: the connection would not be encrypted beyond your PC. Set an https:// relay_url.</source>
        <translation>Relay %1 には暗号化されていない http で接続することになるため、ORA は接続しません。https:// の relay_url を設定してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="248"/>
        <source>The Relay at %1 is on a home-network address, but home-network mode was not chosen, so ORA will not use plain http to it. Set home_network = true in config.toml (or use https).</source>
        <translation>Relay %1 はホームネットワーク上のアドレスですが、ホームネットワーク・モードが選ばれていないため、ORA は暗号化されていない http では接続しません。config.toml に home_network = true を設定するか、https を使ってください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/app.py" line="260"/>
        <source>Home network: phones on this network pair through %1. The connection is not encrypted (plain http); your messages are end-to-end encrypted.</source>
        <translation>ホームネットワーク: このネットワーク上のスマートフォンは %1 を通してペアリングします。接続そのものは暗号化されていません（http）が、メッセージはエンドツーエンドで暗号化されています。</translation>
    </message>
</context>
<context>
    <name>TrayLaunch</name>
    <message>
        <location filename="../../app/tray/launch.py" line="43"/>
        <source>ORA — starting…</source>
        <translation>ORA — 起動しています…</translation>
    </message>
</context>
<context>
    <name>UpdateController</name>
    <message>
        <location filename="../../app/tray/update_controller.py" line="61"/>
        <source>Updates are turned off. Set [updates] url in config.toml to turn them on.</source>
        <translation>アップデートは無効です。有効にするには config.toml の [updates] url を設定してください。</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="70"/>
        <source>ORA is up to date (%1).</source>
        <translation>ORA は最新です（%1）。</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="80"/>
        <location filename="../../app/tray/update_controller.py" line="150"/>
        <location filename="../../app/tray/update_controller.py" line="158"/>
        <source>The update was refused: %1</source>
        <translation>アップデートを拒否しました: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="85"/>
        <source>Could not check for updates: %1</source>
        <translation>アップデートを確認できませんでした: %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="96"/>
        <location filename="../../app/tray/update_controller.py" line="99"/>
        <location filename="../../app/tray/update_controller.py" line="112"/>
        <source>Update available: ORA %1</source>
        <translation>アップデートがあります: ORA %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="114"/>
        <source>Install and restart</source>
        <translation>インストールして再起動</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="115"/>
        <source>Later</source>
        <translation>あとで</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="125"/>
        <source>Downloading ORA %1…</source>
        <translation>ORA %1 をダウンロードしています…</translation>
    </message>
    <message>
        <location filename="../../app/tray/update_controller.py" line="160"/>
        <source>Could not download the update: %1</source>
        <translation>アップデートをダウンロードできませんでした: %1</translation>
    </message>
</context>
<context>
    <name>Wording</name>
    <message>
        <location filename="../../app/tray/wording.py" line="26"/>
        <source>List a folder</source>
        <translation>フォルダーの中身を見る</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="27"/>
        <source>Read a file</source>
        <translation>ファイルを読む</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="28"/>
        <source>Search files</source>
        <translation>ファイルを探す</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="29"/>
        <source>Write a file</source>
        <translation>ファイルに書き込む</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="30"/>
        <source>Move or rename a file</source>
        <translation>ファイルを移動・名前変更する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="31"/>
        <source>Delete a file</source>
        <translation>ファイルを削除する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="32"/>
        <source>Run a command on the PC</source>
        <translation>PC でコマンドを実行する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="33"/>
        <source>Fetch a web page</source>
        <translation>ウェブページを取得する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="34"/>
        <source>Draft text</source>
        <translation>文章の下書きを作る</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="35"/>
        <source>Remember something</source>
        <translation>覚えておく</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="36"/>
        <source>Look something up in memory</source>
        <translation>記憶から調べる</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="37"/>
        <source>Open a web page</source>
        <translation>ウェブページを開く</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="38"/>
        <source>Read the open page</source>
        <translation>開いているページを読む</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="39"/>
        <source>Take a screenshot of the page</source>
        <translation>ページのスクリーンショットを撮る</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="40"/>
        <source>Click on the page</source>
        <translation>ページをクリックする</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="41"/>
        <source>Type into the page</source>
        <translation>ページに入力する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="42"/>
        <source>Submit a form</source>
        <translation>フォームを送信する</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="50"/>
        <source>low</source>
        <translation>低</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="51"/>
        <source>medium</source>
        <translation>中</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="52"/>
        <source>high</source>
        <translation>高</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="53"/>
        <source>critical</source>
        <translation>重大</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="61"/>
        <source>running</source>
        <translation>実行中</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="62"/>
        <source>waiting for approval</source>
        <translation>承認待ち</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="63"/>
        <source>done</source>
        <translation>完了</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="64"/>
        <source>failed</source>
        <translation>失敗</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="65"/>
        <source>not run</source>
        <translation>実行されませんでした</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="66"/>
        <source>stopped</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="75"/>
        <source>you (the owner)</source>
        <translation>あなた（所有者）</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="77"/>
        <source>a guest</source>
        <translation>ゲスト</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="81"/>
        <source>this PC</source>
        <translation>この PC</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="83"/>
        <source>Asked by %1 on %2</source>
        <translation>依頼した人: %1 · 端末: %2</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="92"/>
        <source>local server, no key needed</source>
        <translation>ローカルサーバー（キーは不要）</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="93"/>
        <source>no key name (key_ref) in config.toml for this provider</source>
        <translation>config.toml にこのプロバイダーのキー名（key_ref）がありません</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="96"/>
        <source>ready</source>
        <translation>使用できます</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="97"/>
        <source>detected on this PC</source>
        <translation>この PC で検出</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="103"/>
        <source>no API key saved yet: enter it below under the name %1</source>
        <translation>API キーがまだ保存されていません: 下の欄に名前 %1 で入力してください</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="113"/>
        <source>the OS keyring %1</source>
        <translation>OS のキーリング %1</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="115"/>
        <source>a file only you can read (no OS keyring found on this PC)</source>
        <translation>あなただけが読めるファイル（この PC には OS のキーリングがありません）</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="120"/>
        <source>a file only you can read</source>
        <translation>あなただけが読めるファイル</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="127"/>
        <source>%1: %2 calls, %3 failed, %4 in / %5 out tokens, %6</source>
        <translation>%1: %2 回の呼び出し（%3 回失敗）、入力 %4 / 出力 %5 トークン、%6</translation>
    </message>
    <message>
        <location filename="../../app/tray/wording.py" line="129"/>
        <source>%1: %2 calls, %4 in / %5 out tokens, %6</source>
        <translation>%1: %2 回の呼び出し、入力 %4 / 出力 %5 トークン、%6</translation>
    </message>
</context>
</TS>
