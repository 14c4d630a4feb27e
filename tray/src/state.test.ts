import { describe, expect, test } from "bun:test";
import { formatMoney, menuItems, trayState, type WorkerStatus } from "./state.ts";

const base: WorkerStatus = {
  state: "connected",
  status: "idle",
  node_id: "n1",
  coordinator: "wss://grid.test:8443",
  mode: "default",
  backend: "cuda",
  jobs_running: 0,
  jobs_completed: 12,
  earned_today: "3.456",
  currency: "USD",
};
const s = (p: Partial<WorkerStatus>): WorkerStatus => ({ ...base, ...p });
const visible = (st: WorkerStatus | null) => menuItems(st).filter((i) => !i.hidden);
const titles = (st: WorkerStatus | null) => visible(st).map((i) => i.title);

describe("trayState", () => {
  test.each([
    [s({ status: "busy", jobs_running: 1 }), "green", "Connected, processing 1 job"],
    [s({ status: "busy", jobs_running: 3 }), "green", "Connected, processing 3 jobs"],
    [s({ status: "idle" }), "yellow", "Connected, idle (waiting for jobs)"],
    [s({ status: "paused" }), "yellow", "Paused"],
    [s({ status: "throttled" }), "sleep", "Paused while this computer is in use"],
    [
      s({ status: "throttled", status_reason: "a full-screen application is running" }),
      "sleep",
      "Paused while a full-screen application is running",
    ],
    [
      s({ status: "throttled", status_reason: "another program is using the GPU (pid 4242)" }),
      "sleep",
      "Paused while another program is using the GPU (pid 4242)",
    ],
    [s({ state: "disconnected" }), "red", "Disconnected from the coordinator"],
    [s({ state: "refused" }), "red", "Refused by the coordinator"],
    [s({ state: "connecting", status: "busy" }), "grey", "Connecting to the coordinator…"],
    [null, "red", "Worker not running"],
  ] as const)("%o → %s", (status, icon, line) => {
    const v = trayState(status);
    expect(v.icon).toBe(icon);
    expect(v.statusLine).toBe(line);
    expect(v.tooltip).toBe(`GoGrid: ${line}`);
  });

  test("an unknown state is shown as an error, not a crash", () => {
    expect(trayState(s({ state: "weird" as WorkerStatus["state"] })).icon).toBe("red");
  });
});

describe("menuItems", () => {
  test("running worker: exactly the planned menu", () => {
    expect(titles(s({ status: "busy", jobs_running: 1 }))).toEqual([
      "Connected, processing 1 job",
      "Mode: Default",
      "Jobs processed today: 12",
      "Earned today: $3.46",
      "<SEPARATOR>",
      "Settings…",
      "Statistics…",
      "Pause Worker",
      "Restart Worker",
      "<SEPARATOR>",
      "Open Dashboard (web)",
      "View Logs",
      "Help & Support",
      "<SEPARATOR>",
      "Quit GoGrid",
    ]);
  });

  test("info lines are disabled, actions enabled", () => {
    const items = visible(s({}));
    for (const k of ["status", "mode", "jobs", "earned"]) expect(items.find((i) => i.key === k)?.enabled).toBe(false);
    for (const k of ["settings", "statistics", "pauseResume", "restart", "dashboard", "logs", "help", "quit"])
      expect(items.find((i) => i.key === k)?.enabled).toBe(true);
  });

  test("Pause toggles to Resume when paused (but not when throttled by the machine)", () => {
    const pr = (st: WorkerStatus) => menuItems(st).find((i) => i.key === "pauseResume")!.title;
    expect(pr(s({ status: "paused" }))).toBe("Resume Worker");
    expect(pr(s({ status: "idle" }))).toBe("Pause Worker");
    expect(pr(s({ status: "throttled" }))).toBe("Pause Worker");
  });

  test("mode line follows the worker's mode", () => {
    expect(titles(s({ mode: "conservative" }))).toContain("Mode: Conservative");
  });

  test("worker not running: says so, offers Start Worker, hides worker actions", () => {
    const t = titles(null);
    expect(t[0]).toBe("Worker not running");
    expect(t).toContain("Start Worker");
    expect(t).not.toContain("Pause Worker");
    expect(t).not.toContain("Restart Worker");
    expect(t).not.toContain("Resume Worker");
    expect(t).toContain("Quit GoGrid");
    expect(titles(s({}))).not.toContain("Start Worker");
  });

  test("the entry list is fixed (the tray updates items in place by position)", () => {
    const keys = (st: WorkerStatus | null) => menuItems(st).map((i) => i.key);
    expect(keys(null)).toEqual(keys(s({ status: "paused" })));
    expect(keys(s({ state: "connecting" }))).toEqual(keys(s({ status: "busy" })));
  });
});

describe("formatMoney", () => {
  test("currencies", () => {
    expect(formatMoney("1.5", "USD")).toBe("$1.50");
    expect(formatMoney(0)).toBe("$0.00");
    expect(formatMoney(undefined)).toBe("$0.00");
    expect(formatMoney("2", "EUR")).toBe("€2.00");
    expect(formatMoney("2", "NOPE!")).toBe("2.00 NOPE!");
    expect(formatMoney("abc")).toBe("$0.00");
  });
});
