; Inno Setup script for the Windows installer (built by .github/workflows/release.yml).
; It unpacks the PyInstaller folder to a temporary place and lets the app install itself
; (`ora.exe update install`), so Windows gets the same versions/ + launcher layout the
; updater manages on Linux: %LOCALAPPDATA%\ORA-app\ora.cmd starts the stable version.
#define AppVersion GetEnv("ORA_VERSION")

[Setup]
AppName=ORA
AppVersion={#AppVersion}
AppPublisher=ORA
DefaultDirName={localappdata}\ORA-setup
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
OutputDir=..\..\dist
OutputBaseFilename=ORA-{#AppVersion}-setup
SetupIconFile=..\..\assets\icons\ora.ico
Compression=lzma2
SolidCompression=yes

[Files]
Source: "..\..\dist\ora\*"; DestDir: "{tmp}\ora"; Flags: recursesubdirs createallsubdirs

[Run]
Filename: "{tmp}\ora\ora.exe"; Parameters: "update install"; Flags: runhidden waituntilterminated

[Icons]
Name: "{userprograms}\ORA"; Filename: "{localappdata}\ORA-app\ora.cmd"; IconFilename: "{localappdata}\ORA-app\ora.png"
Name: "{userstartup}\ORA"; Filename: "{localappdata}\ORA-app\ora.cmd"; IconFilename: "{localappdata}\ORA-app\ora.png"
