// Start at login: the file each OS reads, written and removed.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { autostartContent, autostartFile, isAutostartEnabled, setAutostart } from "./autostart.ts";

test("Linux: an XDG autostart entry that runs the tray; removed when turned off", () => {
  const home = mkdtempSync(join(tmpdir(), "gogrid-autostart-"));
  try {
    const env = { HOME: home };
    expect(isAutostartEnabled("linux", env)).toBe(false);
    setAutostart(true, ["/opt/GoGrid/gogrid-tray"], "linux", env);
    const file = autostartFile("linux", env);
    expect(file).toBe(join(home, ".config", "autostart", "gogrid-tray.desktop"));
    expect(readFileSync(file, "utf8")).toContain("Exec=/opt/GoGrid/gogrid-tray\n");
    expect(isAutostartEnabled("linux", env)).toBe(true);
    setAutostart(false, [], "linux", env);
    expect(isAutostartEnabled("linux", env)).toBe(false);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("macOS LaunchAgent and Windows Startup entries", () => {
  expect(autostartFile("darwin", { HOME: "/Users/a" })).toBe("/Users/a/Library/LaunchAgents/ee.bx.gogrid.tray.plist");
  expect(autostartContent(["/Applications/GoGrid.app/Contents/MacOS/gogrid-tray"], "darwin")).toContain(
    "<string>/Applications/GoGrid.app/Contents/MacOS/gogrid-tray</string>",
  );
  expect(autostartFile("win32", { APPDATA: "C:/Users/a/AppData/Roaming" })).toContain(join("Startup", "GoGrid Tray.cmd"));
  expect(autostartContent(["C:/Program Files/GoGrid/gogrid-tray.exe"], "win32")).toBe(
    '@echo off\r\nstart "" "C:/Program Files/GoGrid/gogrid-tray.exe"\r\n',
  );
  expect(autostartContent(["/usr/bin/bun", "/home/a b/main.ts"], "linux")).toContain('Exec=/usr/bin/bun "/home/a b/main.ts"');
});
