// The tray's local pages: reachable only under their secret prefix; help says what the icon means.
import { expect, test } from "bun:test";
import { servePages } from "./pages.ts";

test("help, settings and statistics pages; a wrong prefix is 404; text is escaped", async () => {
  let mode = "default";
  const pages = servePages({
    status: async () => ({ state: "connected", status: "idle", mode, coordinator: "wss://grid.example:8443<script>" }),
    stats: async () => ({ jobs: 3 }),
    setMode: async (m) => {
      mode = m;
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
    const saved = await fetch(pages.settingsUrl, {
      method: "POST",
      body: new URLSearchParams({ mode: "conservative" }),
      redirect: "manual",
    });
    expect(saved.status).toBe(303);
    expect(mode).toBe("conservative");
    const wrong = pages.helpUrl.replace(/\/[0-9a-f]{32}\//, "/0123456789abcdef0123456789abcdef/");
    expect((await fetch(wrong)).status).toBe(404);
  } finally {
    pages.stop();
  }
});
