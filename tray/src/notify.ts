// Desktop notifications on state changes, with each OS's own tool (nothing to install on macOS
// or Windows; Linux uses notify-send from libnotify-bin when present).
export type Notifier = (title: string, body: string) => void;

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

/** The command that shows a notification here, or null when this OS has no tool for it. */
export function notifyCommand(title: string, body: string, platform = process.platform): string[] | null {
  if (platform === "darwin") return ["osascript", "-e", `display notification "${esc(body)}" with title "${esc(title)}"`];
  if (platform === "win32") {
    const ps = `[reflection.assembly]::loadwithpartialname('System.Windows.Forms') | Out-Null; $n = New-Object System.Windows.Forms.NotifyIcon; $n.Icon = [System.Drawing.SystemIcons]::Information; $n.Visible = $true; $n.ShowBalloonTip(5000, '${title.replace(/'/g, "''")}', '${body.replace(/'/g, "''")}', 'Info'); Start-Sleep 6; $n.Dispose()`;
    return ["powershell", "-NoProfile", "-WindowStyle", "Hidden", "-Command", ps];
  }
  return Bun.which("notify-send") ? ["notify-send", "--app-name=GoGrid", title, body] : null;
}

/** A notifier; GOGRID_TRAY_NOTIFY names a program to run instead (title and body as arguments). */
export function systemNotifier(env = process.env): Notifier {
  return (title, body) => {
    const cmd = env.GOGRID_TRAY_NOTIFY ? [env.GOGRID_TRAY_NOTIFY, title, body] : notifyCommand(title, body);
    if (!cmd) return;
    try {
      Bun.spawn(cmd, { stdout: "ignore", stderr: "ignore" }).unref();
    } catch {}
  };
}

/** Which state changes are worth a notification: connection lost or back, throttled or resumed. */
export function changeMessage(from: string, to: string): string | null {
  if (from === to || from === "grey") return null;
  const say: Record<string, string> = {
    red: "The worker is disconnected or not running.",
    sleep: "Resting: this computer is busy, GoGrid will resume by itself.",
    green: "Working on jobs again.",
    yellow: from === "red" ? "Connected again." : from === "sleep" ? "Your computer is free again: taking jobs." : "",
  };
  return say[to] || null;
}
