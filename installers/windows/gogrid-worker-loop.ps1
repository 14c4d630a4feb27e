# GoGrid worker supervisor, run by the "GoGridWorker" scheduled task at each user's logon.
# A Bun binary does not speak the Windows service control protocol, so instead of a service the
# task runs this loop in the user's session: exit 0 stops; exit 75 (restart requested) and crashes
# restart after 5 seconds. The task's own RestartCount/RestartInterval cover this script failing.
$ErrorActionPreference = "Stop"
$exe = Join-Path $PSScriptRoot "gogrid-worker.exe"
while ($true) {
  $p = Start-Process -FilePath $exe -ArgumentList "run" -WindowStyle Hidden -Wait -PassThru
  if ($p.ExitCode -eq 0) { break }
  Start-Sleep -Seconds 5
}
