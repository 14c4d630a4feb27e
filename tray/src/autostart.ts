// "Start at login" for the tray: an XDG autostart entry on Linux, a LaunchAgent on macOS, a
// shortcut-free .cmd in the Startup folder on Windows. Each is one file we write or remove.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export function autostartFile(platform = process.platform, env = process.env): string {
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  if (platform === "darwin") return join(home, "Library", "LaunchAgents", "ee.bx.gogrid.tray.plist");
  if (platform === "win32")
    return join(
      env.APPDATA ?? join(home, "AppData", "Roaming"),
      "Microsoft",
      "Windows",
      "Start Menu",
      "Programs",
      "Startup",
      "GoGrid Tray.cmd",
    );
  return join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "autostart", "gogrid-tray.desktop");
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The file's content that starts `command` at login. */
export function autostartContent(command: string[], platform = process.platform): string {
  if (platform === "darwin") {
    const args = command.map((a) => `    <string>${xml(a)}</string>`).join("\n");
    return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>ee.bx.gogrid.tray</string>
  <key>ProgramArguments</key><array>
${args}
  </array>
  <key>RunAtLoad</key><true/>
</dict></plist>
`;
  }
  if (platform === "win32") return `@echo off\r\nstart "" ${command.map((a) => `"${a}"`).join(" ")}\r\n`;
  const exec = command.map((a) => (/[\s"\\]/.test(a) ? `"${a.replace(/(["\\])/g, "\\$1")}"` : a)).join(" ");
  return `[Desktop Entry]\nType=Application\nName=GoGrid\nComment=GoGrid worker status in the tray\nExec=${exec}\nX-GNOME-Autostart-enabled=true\nTerminal=false\n`;
}

export function isAutostartEnabled(platform = process.platform, env = process.env): boolean {
  return existsSync(autostartFile(platform, env));
}

export function setAutostart(enabled: boolean, command: string[], platform = process.platform, env = process.env): void {
  const file = autostartFile(platform, env);
  if (!enabled) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, autostartContent(command, platform));
}
