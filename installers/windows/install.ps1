<#
.SYNOPSIS
  GoGrid worker + tray for Windows from the zip (what the NSIS setup.exe does, as a script).
.DESCRIPTION
  Run from an elevated PowerShell in the unzipped folder:
    .\install.ps1                     install to $env:ProgramFiles\GoGrid
    .\install.ps1 -Uninstall          remove files, task, firewall rule and shortcuts
  The worker runs as the scheduled task "GoGridWorker" (at logon of any user, as that user,
  restarted on failure): a Bun binary does not speak the Windows service control protocol, so it
  cannot be a service without a wrapper such as WinSW or NSSM. %APPDATA%\GoGrid is never removed.
  -RegisterOnly (used by the NSIS installer) only registers the task, firewall rule and shortcuts.
#>
param(
  [string]$InstallDir = (Join-Path $env:ProgramFiles "GoGrid"),
  [switch]$Uninstall,
  [switch]$RegisterOnly
)
$ErrorActionPreference = "Stop"
$TaskName = "GoGridWorker"
$RuleName = "GoGrid Worker"
$Startup = [Environment]::GetFolderPath("CommonStartup")
$Programs = Join-Path ([Environment]::GetFolderPath("CommonPrograms")) "GoGrid"

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Write-Error "Run this script from an elevated PowerShell (Run as administrator)."
}

function New-Shortcut([string]$Path, [string]$Target) {
  $shell = New-Object -ComObject WScript.Shell
  $lnk = $shell.CreateShortcut($Path)
  $lnk.TargetPath = $Target
  $lnk.WorkingDirectory = Split-Path $Target
  $lnk.IconLocation = (Join-Path $InstallDir "gogrid.ico")
  $lnk.Save()
}

function Remove-GoGrid([bool]$KeepFiles) {
  Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
  Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false -ErrorAction SilentlyContinue
  Get-Process gogrid-tray, gogrid-worker -ErrorAction SilentlyContinue | Stop-Process -Force
  netsh advfirewall firewall delete rule name="$RuleName" | Out-Null
  Remove-Item (Join-Path $Startup "GoGrid.lnk") -ErrorAction SilentlyContinue
  Remove-Item $Programs -Recurse -ErrorAction SilentlyContinue
  if (-not $KeepFiles) { Remove-Item $InstallDir -Recurse -Force -ErrorAction SilentlyContinue }
}

if ($Uninstall) {
  Remove-GoGrid $false
  Write-Host "GoGrid removed. Your data in $env:APPDATA\GoGrid was kept."
  exit 0
}

if (-not $RegisterOnly) {
  Remove-GoGrid $true
  New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
  foreach ($f in "gogrid-worker.exe", "gogrid-tray.exe", "gogrid-worker-loop.ps1", "gogrid.ico", "install.ps1") {
    Copy-Item (Join-Path $PSScriptRoot $f) (Join-Path $InstallDir $f) -Force
  }
}

$worker = Join-Path $InstallDir "gogrid-worker.exe"
$loop = Join-Path $InstallDir "gogrid-worker-loop.ps1"

# Outbound to the coordinator; the worker listens on nothing but localhost.
netsh advfirewall firewall delete rule name="$RuleName" | Out-Null
netsh advfirewall firewall add rule name="$RuleName" dir=out action=allow program="$worker" enable=yes | Out-Null

$action = New-ScheduledTaskAction -Execute "powershell.exe" `
  -Argument "-NoProfile -NonInteractive -WindowStyle Hidden -ExecutionPolicy Bypass -File `"$loop`""
$trigger = New-ScheduledTaskTrigger -AtLogOn
$users = New-ScheduledTaskPrincipal -GroupId "S-1-5-32-545" -RunLevel Limited  # BUILTIN\Users
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
  -ExecutionTimeLimit ([TimeSpan]::Zero) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
  -StartWhenAvailable -MultipleInstances IgnoreNew
Register-ScheduledTask -TaskName $TaskName -Description "GoGrid worker" -Action $action -Trigger $trigger `
  -Principal $users -Settings $settings -Force | Out-Null

New-Item -ItemType Directory -Force -Path $Programs | Out-Null
New-Shortcut (Join-Path $Startup "GoGrid.lnk") (Join-Path $InstallDir "gogrid-tray.exe")
New-Shortcut (Join-Path $Programs "GoGrid.lnk") (Join-Path $InstallDir "gogrid-tray.exe")

if (-not $RegisterOnly) {
  Start-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
  Start-Process (Join-Path $InstallDir "gogrid-tray.exe")
  Write-Host "GoGrid installed to $InstallDir. Enrol with: gogrid-worker enroll --token <token> --server <url>"
}
