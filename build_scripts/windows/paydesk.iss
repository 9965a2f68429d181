; PayDesk's Windows installer (Inno Setup 6). Built by `python build_scripts/build.py` on
; Windows, which passes the defines below; by hand:
;
;   iscc /DAppVersion=0.1.0 /DAppVersionNumbers=0.1.0.0 /DSourceDir=dist\PayDesk
;        /DOutputDir=dist /DIconFile=resources\icons\paydesk.ico build_scripts\windows\paydesk.iss
;
; A per-user installation: no administrator rights, PayDesk goes to
; %LOCALAPPDATA%\Programs\PayDesk, with a Start menu entry and an uninstaller in
; Settings > Apps. Upgrading installs over the old version (same AppId) and keeps the profile:
; the database, logs and window layout live in the user data folder (%APPDATA%\PayDesk),
; which neither the installer nor the uninstaller touches.

#ifndef AppVersion
  #error Pass /DAppVersion=x.y.z (build_scripts/build.py does)
#endif
#ifndef AppVersionNumbers
  #define AppVersionNumbers AppVersion + ".0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\PayDesk"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\..\resources\icons\paydesk.ico"
#endif

[Setup]
; Never change AppId: Windows recognises an upgrade by it.
AppId={{6F1C2B0E-5A7D-4C39-9D54-3E2B7A81C4F0}
AppName=PayDesk
AppVersion={#AppVersion}
AppVerName=PayDesk {#AppVersion}
AppPublisher=PayDesk
AppComments=Take payments on Autotask invoices and keep Autotask and QuickBooks in step.
VersionInfoVersion={#AppVersionNumbers}
VersionInfoProductName=PayDesk
VersionInfoProductVersion={#AppVersion}
VersionInfoDescription=PayDesk installer
VersionInfoCompany=PayDesk
; Per user, without administrator rights ({autopf} is then %LOCALAPPDATA%\Programs).
PrivilegesRequired=lowest
DefaultDirName={autopf}\PayDesk
DisableDirPage=auto
DefaultGroupName=PayDesk
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
OutputDir={#OutputDir}
OutputBaseFilename=PayDesk-{#AppVersion}-windows-x64-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\PayDesk.exe
UninstallDisplayName=PayDesk {#AppVersion}
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; A PayDesk that is open is asked to close before its files are replaced.
CloseApplications=yes
RestartApplications=no
ChangesEnvironment=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; The previous version's libraries go first, so no stale file outlives an upgrade. Only the
; program folder: the profile (%APPDATA%\PayDesk) is elsewhere and is kept.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\PayDesk"; Filename: "{app}\PayDesk.exe"; WorkingDir: "{app}"; Comment: "Take payments on Autotask invoices"
Name: "{autodesktop}\PayDesk"; Filename: "{app}\PayDesk.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\PayDesk.exe"; Description: "{cm:LaunchProgram,PayDesk}"; Flags: nowait postinstall skipifsilent

; The uninstaller removes only the installed files: the profile (database, logs) stays in
; %APPDATA%\PayDesk, so reinstalling finds it again. Delete that folder by hand to remove it.
