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
        <location filename="../../app/tray/approval_dialog.py" line="56" />
        <source>Approve</source>
        <translation>承認</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="57" />
        <source>Deny</source>
        <translation>拒否</translation>
    </message>
    <message>
        <location filename="../../app/tray/approval_dialog.py" line="90" />
        <source>Denied automatically in %1 s</source>
        <translation>%1 秒後に自動的に拒否されます</translation>
    </message>
</context>
<context>
    <name>PairingDialog</name>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="33" />
        <source>Pair a device</source>
        <translation>デバイスをペアリング</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="38" />
        <source>Scan with your phone's camera</source>
        <translation>スマホのカメラで読み取ってください</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="40" />
        <source>Let your friend scan this (guest access)</source>
        <translation>友だちに読み取ってもらってください（ゲストとして利用）</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="49" />
        <source>New code</source>
        <translation>新しいコード</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="71" />
        <source>Valid for %1:%2 — works once</source>
        <translation>有効期限 %1:%2 — 1 回だけ使えます</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="78" />
        <source>This code has expired.</source>
        <translation>このコードは期限切れです。</translation>
    </message>
    <message>
        <location filename="../../app/tray/qr_dialog.py" line="80" />
        <source>Press New code to pair.</source>
        <translation>「新しいコード」を押してペアリングしてください。</translation>
    </message>
</context>
</TS>