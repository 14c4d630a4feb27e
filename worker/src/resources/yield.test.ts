// Yielding with injected readings: a fake command runner stands in for nvidia-smi, xprop and PowerShell.
import { describe, expect, test } from "bun:test";
import { type CommandOutput, type CommandRunner, runCommand } from "./command.ts";
import { fullscreenProbe, parseActiveWindow, windowsFullscreen, x11Fullscreen } from "./fullscreen.ts";
import { foreignGpuProcesses, NVIDIA_SMI_QUERY, parseComputeApps } from "./gpu-apps.ts";
import { ResourceMonitor } from "./monitor.ts";
import type { LoadSampler } from "./sampler.ts";
import { YieldWatcher } from "./yield.ts";

/** A fake shell: answers by program name; a program without an answer is "not installed". */
function fakeRunner(answers: Record<string, (argv: readonly string[]) => CommandOutput | null>): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  const run = async (argv: readonly string[]) => {
    calls.push([...argv]);
    const answer = answers[argv[0] as string];
    return answer ? answer(argv) : null;
  };
  return Object.assign(run, { calls });
}

const ok = (stdout: string): CommandOutput => ({ exitCode: 0, stdout });
const OWN = 1000;

function gpuWatcher(csv: { now: string }, clock: { t: number }, quietSecs = 30) {
  const run = fakeRunner({ "nvidia-smi": () => ok(csv.now) });
  const w = new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs, ownPids: [OWN], run, now: () => clock.t });
  return { w, run };
}

describe("nvidia-smi compute apps", () => {
  test("parses pid and MiB; [N/A] memory and noise lines are handled", () => {
    expect(parseComputeApps("4242, 1536\n1000, 300\r\n77, [N/A]\nNo running processes found\n\n")).toEqual([
      { pid: 4242, usedMb: 1536 },
      { pid: 1000, usedMb: 300 },
      { pid: 77, usedMb: null },
    ]);
  });

  test("asks nvidia-smi exactly for pid,used_memory as bare CSV and leaves our own pids out", async () => {
    const run = fakeRunner({ "nvidia-smi": () => ok("4242, 1536\n1000, 300\n") });
    expect(await foreignGpuProcesses(run, new Set([1000]))).toEqual([{ pid: 4242, usedMb: 1536 }]);
    expect(run.calls[0]).toEqual([...NVIDIA_SMI_QUERY]);
    expect(NVIDIA_SMI_QUERY.join(" ")).toBe("nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits");
  });

  test("nvidia-smi missing or failing is no reading, not an error", async () => {
    expect(await foreignGpuProcesses(fakeRunner({}), new Set())).toBeNull();
    expect(
      await foreignGpuProcesses(fakeRunner({ "nvidia-smi": () => ({ exitCode: 9, stdout: "NVIDIA-SMI has failed" }) }), new Set()),
    ).toBeNull();
  });
});

describe("runCommand", () => {
  test("a program that is not installed resolves null; one that is gives its exit code and output", async () => {
    expect(await runCommand(["gogrid-no-such-program-xyz", "--version"])).toBeNull();
    expect(await runCommand([process.execPath, "-e", "console.log(41 + 1)"])).toEqual({ exitCode: 0, stdout: "42\n" });
    expect((await runCommand([process.execPath, "-e", "process.exit(3)"]))?.exitCode).toBe(3);
  });
});

describe("full-screen detection", () => {
  test("X11: the active window's _NET_WM_STATE names _NET_WM_STATE_FULLSCREEN", async () => {
    let state = "_NET_WM_STATE(ATOM) = _NET_WM_STATE_FULLSCREEN, _NET_WM_STATE_FOCUSED";
    const run = fakeRunner({
      xprop: (argv) =>
        argv[1] === "-root" ? ok("_NET_ACTIVE_WINDOW(WINDOW): window id # 0x3a00007, 0x0\n") : argv[2] === "0x3a00007" ? ok(state) : null,
    });
    expect(await x11Fullscreen(run)).toBe(true);
    expect(run.calls[1]).toEqual(["xprop", "-id", "0x3a00007", "_NET_WM_STATE"]);
    state = "_NET_WM_STATE(ATOM) = _NET_WM_STATE_MAXIMIZED_VERT, _NET_WM_STATE_MAXIMIZED_HORZ";
    expect(await x11Fullscreen(run)).toBe(false);
    expect(parseActiveWindow("_NET_ACTIVE_WINDOW(WINDOW): window id # 0x0")).toBeNull();
    expect(await x11Fullscreen(fakeRunner({}))).toBeNull();
  });

  test("Windows: QUNS_BUSY (2), QUNS_RUNNING_D3D_FULL_SCREEN (3), QUNS_PRESENTATION_MODE (4) count; others do not", async () => {
    for (const [answer, full] of [
      ["2", true],
      ["3", true],
      ["4", true],
      ["5", false],
      ["1", false],
      ["oops", null],
    ] as const) {
      const run = fakeRunner({ powershell: () => ok(`${answer}\r\n`) });
      expect(await windowsFullscreen(run)).toBe(full);
      expect(run.calls[0]?.at(-1)).toContain("SHQueryUserNotificationState");
    }
  });

  test("macOS and Linux without an X display: not detected", () => {
    const run = fakeRunner({});
    expect(fullscreenProbe(run, "darwin", {})).toBeNull();
    expect(fullscreenProbe(run, "linux", {})).toBeNull();
    expect(fullscreenProbe(run, "linux", { DISPLAY: ":0" })).not.toBeNull();
    expect(fullscreenProbe(run, "win32", {})).not.toBeNull();
    expect(new YieldWatcher({ gpuApps: false, fullscreen: true, quietSecs: 1, fullscreenProbe: null }).detectsFullscreen).toBe(false);
  });
});

describe("YieldWatcher", () => {
  test("a foreign GPU process starts yielding at once; our own pid does not", async () => {
    const clock = { t: 0 };
    const csv = { now: `${OWN}, 900\n` };
    const { w } = gpuWatcher(csv, clock);
    const changes: boolean[] = [];
    w.onChange((s) => changes.push(s.yielding));
    expect((await w.check()).yielding).toBe(false);
    csv.now = `${OWN}, 900\n4242, 2048\n`;
    const s = await w.check();
    expect(s).toMatchObject({ yielding: true, causes: ["gpu_app"], since: 0 });
    expect(s.reason).toBe("another program is using the GPU (pid 4242)");
    expect(changes).toEqual([true]);
  });

  test("resumes only after every cause has been gone for the quiet period", async () => {
    const clock = { t: 0 };
    const csv = { now: "4242, 2048\n" };
    const { w } = gpuWatcher(csv, clock, 30);
    await w.check();
    csv.now = "";
    clock.t = 10_000;
    expect((await w.check()).yielding).toBe(true); // gone 0 s
    clock.t = 39_999;
    expect((await w.check()).yielding).toBe(true); // gone 29.999 s
    csv.now = "4242, 2048\n"; // back: the quiet period starts over
    clock.t = 41_000;
    await w.check();
    csv.now = "";
    clock.t = 42_000;
    expect((await w.check()).yielding).toBe(true); // gone from here
    clock.t = 71_999;
    expect((await w.check()).yielding).toBe(true);
    clock.t = 72_000;
    expect(await w.check()).toEqual({ yielding: false, causes: [], reason: null, since: null });
  });

  test("nvidia-smi missing: never yields, no error", async () => {
    const w = new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs: 0, run: fakeRunner({}) });
    expect((await w.check()).yielding).toBe(false);
    expect(w.readings.gpu).toBe(false);
  });

  test("a full-screen application triggers yielding, with its reason; switched off, it does not", async () => {
    let full = true;
    const on = new YieldWatcher({ gpuApps: false, fullscreen: true, quietSecs: 0, fullscreenProbe: async () => full, now: () => 0 });
    expect(await on.check()).toMatchObject({ yielding: true, causes: ["fullscreen"], reason: "a full-screen application is running" });
    full = false;
    expect((await on.check()).yielding).toBe(false); // quiet period 0
    const off = new YieldWatcher({ gpuApps: false, fullscreen: false, quietSecs: 0, fullscreenProbe: async () => true });
    expect((await off.check()).yielding).toBe(false);
    expect(off.enabled).toBe(false);
  });

  test("switched off, a foreign GPU process is ignored", async () => {
    const run = fakeRunner({ "nvidia-smi": () => ok("4242, 2048\n") });
    const w = new YieldWatcher({ gpuApps: false, fullscreen: false, quietSecs: 0, run });
    expect((await w.check()).yielding).toBe(false);
    expect(run.calls).toEqual([]);
  });

  test("a probe with no reading is not run again for probeRetryMs (no process per check for a missing tool)", async () => {
    const clock = { t: 0 };
    let installed = false;
    const run = fakeRunner({ "nvidia-smi": () => (installed ? ok("4242, 2048\n") : null) });
    const xprop = { calls: 0, answer: null as boolean | null };
    const w = new YieldWatcher({
      gpuApps: true,
      fullscreen: true,
      quietSecs: 0,
      run,
      fullscreenProbe: async () => {
        xprop.calls++;
        return xprop.answer;
      },
      probeRetryMs: 60_000,
      now: () => clock.t,
    });
    await w.check();
    expect([run.calls.length, xprop.calls]).toEqual([1, 1]);
    for (const t of [5_000, 30_000, 59_999]) {
      clock.t = t;
      await w.check();
    }
    expect([run.calls.length, xprop.calls]).toEqual([1, 1]);
    installed = true;
    xprop.answer = false;
    clock.t = 60_000;
    expect(await w.check()).toMatchObject({ yielding: true, causes: ["gpu_app"] });
    expect(w.readings).toEqual({ gpu: true, fullscreen: true });
    clock.t = 61_000;
    await w.check(); // answering probes run on every check
    expect([run.calls.length, xprop.calls]).toEqual([3, 3]);
    clock.t = -10_000_000; // the clock set far back: a null answer is retried, not silenced for hours
    xprop.answer = null;
    await w.check();
    clock.t = -10_000_000 - 3_600_000;
    await w.check();
    expect(xprop.calls).toBe(5);
  });

  test("checks every intervalMs while busy (a job runs or a model is loaded), else every idleIntervalMs", () => {
    let busy = false;
    const w = new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs: 0, run: fakeRunner({}), busy: () => busy });
    const fast = process.platform === "win32" ? 10_000 : 5000;
    expect(w.nextIntervalMs()).toBe(2 * fast);
    busy = true;
    expect(w.nextIntervalMs()).toBe(fast);
    const given = new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs: 0, intervalMs: 100, busy: () => false });
    expect(given.nextIntervalMs()).toBe(100);
    const always = new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs: 0 });
    expect(always.nextIntervalMs()).toBe(fast); // without busy(): always the documented interval
  });

  test("with every probe waiting to be retried, the next check is at the retry time (not while yielding)", async () => {
    const clock = { t: 0 };
    let full: boolean | null = null;
    let apps: string | null = null;
    const run = fakeRunner({ "nvidia-smi": () => (apps === null ? null : ok(apps)) });
    const w = new YieldWatcher({
      gpuApps: true,
      fullscreen: true,
      quietSecs: 30,
      run,
      fullscreenProbe: async () => full,
      intervalMs: 5000,
      idleIntervalMs: 10_000,
      busy: () => false,
      probeRetryMs: 60_000,
      now: () => clock.t,
    });
    expect(w.nextIntervalMs()).toBe(10_000); // nothing tried yet
    full = false;
    await w.check(); // nvidia-smi missing, xprop answers
    expect(w.nextIntervalMs()).toBe(10_000);
    full = null;
    clock.t = 20_000;
    await w.check(); // now both wait: gpu until 60 s, full screen until 80 s
    expect(w.nextIntervalMs()).toBe(40_000);
    clock.t = 55_000;
    expect(w.nextIntervalMs()).toBe(10_000); // never sooner than the idle interval
    apps = "4242, 10\n";
    clock.t = 60_000;
    expect((await w.check()).yielding).toBe(true);
    apps = null;
    clock.t = 61_000;
    await w.check(); // both wait again, but yielding: the quiet period is timed at the usual rate
    expect(w.nextIntervalMs()).toBe(10_000);
  });

  test("a bad quiet period is named", () => {
    expect(() => new YieldWatcher({ gpuApps: true, fullscreen: false, quietSecs: -1 })).toThrow(/yield_quiet_secs/);
  });
});

describe("ResourceMonitor with a YieldWatcher", () => {
  const calm: LoadSampler = {
    sample: async () => ({ cpuPercent: 5, memoryPercent: 20, gpuPercent: null, vramUsedMb: null, vramTotalMb: null, at: Date.now() }),
  };

  test("while yielding: no jobs, status throttled with the reason; after the quiet period back to normal", async () => {
    const clock = { t: 0 };
    const csv = { now: "" };
    const { w } = gpuWatcher(csv, clock, 5);
    const m = new ResourceMonitor({ sampler: calm, yieldWatcher: w });
    let notified = 0;
    m.onChange(() => notified++);
    await m.sampleNow();
    await w.check();
    expect(m.canAcceptJob()).toBe(true);
    expect(m.status(0)).toBe("idle");
    expect(m.statusReason()).toBeNull();
    csv.now = "4242, 2048\n";
    await w.check();
    expect(notified).toBe(1);
    expect(m.canAcceptJob()).toBe(false);
    expect(m.status(0)).toBe("throttled");
    expect(m.status(1)).toBe("throttled");
    expect(m.statusReason()).toBe("another program is using the GPU (pid 4242)");
    expect(m.stats().yield?.yielding).toBe(true);
    csv.now = "";
    clock.t = 1_000;
    await w.check(); // gone from here: still yielding for 5 s
    expect(m.canAcceptJob()).toBe(false);
    expect(m.status(0)).toBe("throttled");
    clock.t = 6_000;
    await w.check();
    expect(m.canAcceptJob()).toBe(true);
    expect(m.status(0)).toBe("idle");
    expect(notified).toBe(2);
    m.dispose();
  });
});
