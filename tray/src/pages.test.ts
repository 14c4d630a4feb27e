// The tray's local pages: reachable only under their secret prefix; help says what the icon means;
// settings show the plan's fields and save each one where it belongs.
import { expect, test } from "bun:test";
import { servePages } from "./pages.ts";

test("help, settings and statistics pages; saving; a wrong prefix is 404; text is escaped", async () => {
  let mode = "default";
  let throttling = true;
  let notifications = true;
  let login = false;
  const pages = servePages({
    status: async () => ({
      state: "connected",
      status: "idle",
      mode,
      adaptive_throttling: throttling,
      backend: "vulkan",
      gpus: [{ name: "Radeon RX 7600", vram_mb: 8192 }],
      coordinator: "wss://grid.example:8443<script>",
    }),
    stats: async () => ({ jobs: 3 }),
    setMode: async (m) => {
      mode = m;
    },
    setThrottling: async (on) => {
      throttling = on;
    },
    notifications: () => notifications,
    setNotifications: (on) => {
      notifications = on;
    },
    startAtLogin: () => login,
    setStartAtLogin: (on) => {
      login = on;
    },
    configFile: "/home/a/.config/gogrid/config.toml",
    logDir: "/home/a/.local/share/gogrid/logs",
  });
  try {
    const help = await (await fetch(pages.helpUrl)).text();
    expect(help).toContain("resting because this computer is busy");
    expect(help).toContain("/home/a/.config/gogrid/config.toml");
    expect(help).toContain("wss://grid.example:8443&lt;script&gt;");
    expect(help).not.toContain("<script>");
    expect(await (await fetch(pages.statisticsUrl)).text()).toContain("jobs");

    const settings = await (await fetch(pages.settingsUrl)).text();
    for (const text of [
      "Adaptive throttling",
      "Notifications",
      "Start GoGrid at login",
      "Radeon RX 7600 (8 GiB)",
      "vulkan",
      "up to 50% of the GPU",
    ]) {
      expect(settings).toContain(text);
    }
    // conservative mode, throttling off, notifications off (unchecked boxes are absent), start at login on
    const saved = await fetch(pages.settingsUrl, {
      method: "POST",
      body: new URLSearchParams({ mode: "conservative", login: "on" }),
      redirect: "manual",
    });
    expect(saved.status).toBe(303);
    expect([mode, throttling, notifications, login]).toEqual(["conservative", false, false, true]);

    const wrong = pages.helpUrl.replace(/\/[0-9a-f]{32}\//, "/0123456789abcdef0123456789abcdef/");
    expect((await fetch(wrong)).status).toBe(404);
  } finally {
    pages.stop();
  }
});
