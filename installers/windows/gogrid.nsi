; GoGrid Windows installer (NSIS 3). Compiled on Linux by scripts/package.ts:
;   makensis -DVERSION=0.1.0 -DSRCDIR=<folder with the binaries> -DOUTFILE=<setup.exe> gogrid.nsi
; -DFAST stores files uncompressed (CI); a release uses solid LZMA.
;
; What it does: installs gogrid-worker.exe and gogrid-tray.exe to $PROGRAMFILES64\GoGrid, a tray
; shortcut in the all-users Startup folder and the Start menu, an outbound firewall rule
; "GoGrid Worker", and a scheduled task "GoGridWorker" (at logon of any user, runs as that user,
; restart on failure) instead of a Windows service, because a Bun binary cannot answer the
; service control manager. The uninstaller removes all of that and leaves %APPDATA%\GoGrid.

Unicode true
!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef SRCDIR
  !define SRCDIR "."
!endif
!ifndef OUTFILE
  !define OUTFILE "GoGrid-${VERSION}-setup.exe"
!endif
!ifdef FAST
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif

!include "MUI2.nsh"
!include "x64.nsh"

Name "GoGrid ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\GoGrid"
InstallDirRegKey HKLM "Software\GoGrid" "InstallDir"
RequestExecutionLevel admin
ManifestDPIAware true
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "GoGrid"
VIAddVersionKey "FileDescription" "GoGrid worker installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "GoGrid contributors"

!define MUI_ICON "${SRCDIR}\gogrid.ico"
!define MUI_UNICON "${SRCDIR}\gogrid.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\gogrid-tray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start the GoGrid tray"
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\GoGrid"
!define PS 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command'

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "GoGrid needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Section "GoGrid" SecMain
  SectionIn RO
  SetShellVarContext all
  ; Stop a running worker and tray before replacing the files (upgrade).
  nsExec::Exec '${PS} "Stop-ScheduledTask -TaskName GoGridWorker -ErrorAction SilentlyContinue"'
  nsExec::Exec 'taskkill.exe /F /IM gogrid-tray.exe'
  nsExec::Exec 'taskkill.exe /F /IM gogrid-worker.exe'

  SetOutPath "$INSTDIR"
  File "${SRCDIR}\gogrid-worker.exe"
  File "${SRCDIR}\gogrid-tray.exe"
  File "${SRCDIR}\gogrid-worker-loop.ps1"
  File "${SRCDIR}\install.ps1"
  File "${SRCDIR}\gogrid.ico"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; Tray at logon for every user, and in the Start menu.
  CreateShortcut "$SMSTARTUP\GoGrid.lnk" "$INSTDIR\gogrid-tray.exe" "" "$INSTDIR\gogrid.ico"
  CreateDirectory "$SMPROGRAMS\GoGrid"
  CreateShortcut "$SMPROGRAMS\GoGrid\GoGrid.lnk" "$INSTDIR\gogrid-tray.exe" "" "$INSTDIR\gogrid.ico"
  CreateShortcut "$SMPROGRAMS\GoGrid\Uninstall GoGrid.lnk" "$INSTDIR\uninstall.exe"

  ; Outbound to the coordinator (the worker dials out; nothing listens on the network).
  nsExec::Exec 'netsh advfirewall firewall delete rule name="GoGrid Worker"'
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="GoGrid Worker" dir=out action=allow program="$INSTDIR\gogrid-worker.exe" enable=yes'

  ; The worker: a scheduled task at logon of any user, in that user's session, restarted on failure.
  nsExec::ExecToLog 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "$INSTDIR\install.ps1" -RegisterOnly -InstallDir "$INSTDIR"'
  Pop $0
  ${If} $0 != 0
    DetailPrint "Could not register the GoGridWorker task (exit $0); run install.ps1 from $INSTDIR as administrator."
  ${EndIf}

  WriteRegStr HKLM "Software\GoGrid" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "GoGrid"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "GoGrid"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\gogrid.ico"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  nsExec::Exec '${PS} "Stop-ScheduledTask -TaskName GoGridWorker -ErrorAction SilentlyContinue; Unregister-ScheduledTask -TaskName GoGridWorker -Confirm:$$false -ErrorAction SilentlyContinue"'
  nsExec::Exec 'taskkill.exe /F /IM gogrid-tray.exe'
  nsExec::Exec 'taskkill.exe /F /IM gogrid-worker.exe'
  nsExec::Exec 'netsh advfirewall firewall delete rule name="GoGrid Worker"'
  Delete "$SMSTARTUP\GoGrid.lnk"
  RMDir /r "$SMPROGRAMS\GoGrid"
  Delete "$INSTDIR\gogrid-worker.exe"
  Delete "$INSTDIR\gogrid-tray.exe"
  Delete "$INSTDIR\gogrid-worker-loop.ps1"
  Delete "$INSTDIR\gogrid.ico"
  Delete "$INSTDIR\install.ps1"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "Software\GoGrid"
  ; %APPDATA%\GoGrid (keys, settings, models) is each user's and is left alone.
SectionEnd
