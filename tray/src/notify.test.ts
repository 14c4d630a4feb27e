// Notifications: which changes are announced, and how each OS shows them.
import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeMessage, notifyCommand, systemNotifier } from "./notify.ts";

test("disconnects, rests and recoveries are announced; starting and unchanged states are not", () => {
  expect(changeMessage("green", "red")).toContain("disconnected");
  expect(changeMessage("yellow", "sleep")).toContain("computer is busy");
  expect(changeMessage("sleep", "yellow")).toContain("free again");
  expect(changeMessage("red", "yellow")).toBe("Connected again.");
  expect(changeMessage("grey", "yellow")).toBeNull();
  expect(changeMessage("yellow", "yellow")).toBeNull();
  expect(changeMessage("green", "yellow")).toBeNull(); // a job ended: not worth a popup
});

test("each OS's own tool, with quotes escaped", () => {
  expect(notifyCommand('say "hi"', "body", "darwin")).toEqual(["osascript", "-e", 'display notification "body" with title "say \\"hi\\""']);
  expect(notifyCommand("it's", "x", "win32")?.[0]).toBe("powershell");
  expect(notifyCommand("it's", "x", "win32")?.at(-1)).toContain("'it''s'");
});

test("GOGRID_TRAY_NOTIFY runs a program of your choice with title and body", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gogrid-notify-"));
  try {
    const script = join(dir, "notify.sh");
    const out = join(dir, "got.txt");
    writeFileSync(script, `#!/bin/sh\nprintf '%s|%s' "$1" "$2" > ${out}\n`);
    chmodSync(script, 0o755);
    systemNotifier({ GOGRID_TRAY_NOTIFY: script })("GoGrid", "Connected again.");
    for (let i = 0; i < 50 && !(await Bun.file(out).exists()); i++) await Bun.sleep(20);
    expect(readFileSync(out, "utf8")).toBe("GoGrid|Connected again.");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
