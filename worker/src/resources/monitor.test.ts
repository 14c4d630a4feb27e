// ResourceMonitor with a scripted sampler: throttle + pauses → status, job admission, stats, heartbeat fields.
import { describe, expect, test } from "bun:test";
import { type MessageOf, validateMessage } from "@gogrid/protocol";
import { applyServerCommand, PauseControl, type Scheduler } from "./control.ts";
import { ResourceConfigError } from "./errors.ts";
import { ResourceMonitor } from "./monitor.ts";
import type { LoadReading, LoadSampler } from "./sampler.ts";

const T0 = 1_700_000_000_000;

/** Hands out readings a test sets, one second of clock per sample. */
class ScriptedSampler implements LoadSampler {
  cpu = 10;
  memory = 30;
  gpu: number | null = 5;
  sec = 0;
  step = 2;
  fail: Error | null = null;
  samples = 0;

  async sample(): Promise<LoadReading> {
    this.samples++;
    if (this.fail) throw this.fail;
    const r = {
      cpuPercent: this.cpu,
      memoryPercent: this.memory,
      gpuPercent: this.gpu,
      vramUsedMb: 2047.6,
      vramTotalMb: 8192,
      at: T0 + this.sec * 1000,
    };
    this.sec += this.step;
    return r;
  }
}

async function samples(monitor: ResourceMonitor, n: number) {
  for (let i = 0; i < n; i++) await monitor.sampleNow();
}

const manualClock: Scheduler = { now: () => T0, schedule: () => () => {} };

function setup(options: ConstructorParameters<typeof ResourceMonitor>[0] = {}) {
  const sampler = new ScriptedSampler();
  const monitor = new ResourceMonitor({ sampler, control: new PauseControl({ scheduler: manualClock }), ...options });
  return { sampler, monitor };
}

describe("ResourceMonitor", () => {
  test("sustained load throttles: status, admission and counters follow", async () => {
    const { sampler, monitor } = setup();
    let changes = 0;
    monitor.onChange(() => changes++);
    await samples(monitor, 3);
    expect(monitor.canAcceptJob()).toBe(true);
    expect(monitor.status(0)).toBe("idle");
    expect(monitor.status(2)).toBe("busy");

    sampler.gpu = 90;
    await samples(monitor, 6); // 10 s over the default 70%
    expect(monitor.canAcceptJob()).toBe(false);
    expect(monitor.status(1)).toBe("throttled");
    monitor.noteRejected();
    expect(changes).toBe(1);

    sampler.gpu = 10;
    await samples(monitor, 16); // 30 s calm
    expect(monitor.canAcceptJob()).toBe(true);
    const stats = monitor.stats();
    expect(stats).toMatchObject({ mode: "default", throttle: "normal", overloaded: [], sampleErrors: 0, pauses: [] });
    expect(stats.counters).toEqual({ pauses: 1, throttledRequests: 1, throttledMs: 32_000 });
    expect(stats.reading?.gpuPercent).toBe(10);
    expect(changes).toBe(2);
  });

  test("server pause/resume commands pause the worker whatever the load", async () => {
    const { monitor } = setup();
    await monitor.sampleNow();
    applyServerCommand(monitor.control, { action: "pause", reason: "maintenance", duration_secs: 600 });
    expect(monitor.isPaused()).toBe(true);
    expect(monitor.canAcceptJob()).toBe(false);
    expect(monitor.status(1)).toBe("paused");
    expect(monitor.stats().pauses).toEqual([{ source: "server", reason: "maintenance", since: T0, until: T0 + 600_000 }]);
    applyServerCommand(monitor.control, { action: "resume" });
    expect(monitor.status(0)).toBe("idle");
    expect(monitor.canAcceptJob()).toBe(true);
  });

  test("a local pause outranks throttling in the status", async () => {
    const { sampler, monitor } = setup({ overSecs: 0 });
    sampler.cpu = 99;
    await monitor.sampleNow();
    expect(monitor.status(0)).toBe("throttled");
    monitor.control.pause("local", { reason: "gaming" });
    expect(monitor.status(0)).toBe("paused");
    monitor.control.resume("local");
    expect(monitor.status(0)).toBe("throttled");
  });

  test("a mode change applies live", async () => {
    const { sampler, monitor } = setup({ mode: "aggressive" });
    sampler.cpu = 80;
    await samples(monitor, 10);
    expect(monitor.canAcceptJob()).toBe(true); // under aggressive's 90%
    monitor.setMode("conservative");
    await samples(monitor, 6);
    expect(monitor.canAcceptJob()).toBe(false);
    expect(monitor.stats().thresholds).toEqual({ cpuPercent: 50, memoryPercent: 70, gpuPercent: 50 });
    monitor.setMode("default", { cpu: 85 }); // the seed's override
    expect(monitor.mode).toBe("default");
    expect(monitor.stats().thresholds.cpuPercent).toBe(85);
    expect(() => monitor.setMode("default", { cpu: 0 })).toThrow(ResourceConfigError);
    expect(monitor.stats().thresholds.cpuPercent).toBe(85); // a bad change leaves things as they were
  });

  test("while our job runs, a GPU figure that includes it does not throttle us", async () => {
    let running = true;
    const { sampler, monitor } = setup({ ownJobRunning: () => running });
    sampler.gpu = 100;
    await samples(monitor, 20);
    expect(monitor.canAcceptJob()).toBe(true);
    running = false;
    await samples(monitor, 6);
    expect(monitor.canAcceptJob()).toBe(false);
  });

  test("heartbeatLoad fills a valid heartbeat", async () => {
    const { sampler, monitor } = setup();
    sampler.gpu = null;
    expect(monitor.heartbeatLoad()).toEqual({ cpu_percent: 0, memory_percent: 0, throttled_requests: 0 });
    sampler.gpu = 42;
    await monitor.sampleNow();
    monitor.noteRejected();
    const load = monitor.heartbeatLoad();
    expect(load).toEqual({ cpu_percent: 10, memory_percent: 30, gpu_percent: 42, vram_used_mb: 2048, throttled_requests: 1 });
    const heartbeat: MessageOf<"heartbeat"> = {
      type: "heartbeat",
      ts: T0,
      status: monitor.status(0),
      stats: { ...load, jobs_running: 0, jobs_completed: 0, tokens_generated: 0, uptime_secs: 1 },
    };
    expect(validateMessage(heartbeat, "worker_to_coordinator")).toBeUndefined();
  });

  test("start() samples on an interval until stop(); failures are counted and reported", async () => {
    const errors: unknown[] = [];
    const { sampler, monitor } = setup({ intervalMs: 20, onError: (e) => errors.push(e) });
    monitor.start();
    monitor.start(); // idempotent
    await Bun.sleep(150);
    expect(sampler.samples).toBeGreaterThanOrEqual(3);
    sampler.fail = new Error("sensor gone");
    await Bun.sleep(60);
    expect(monitor.stats().sampleErrors).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toBe(sampler.fail);
    expect(monitor.stats().reading).not.toBeNull(); // the last good reading stays
    sampler.fail = null;
    monitor.stop();
    await Bun.sleep(30);
    const after = sampler.samples;
    await Bun.sleep(60);
    expect(sampler.samples).toBe(after);
    monitor.dispose();
  });

  test("a running monitor and a timed pause do not keep the process alive", async () => {
    const script = [
      `import { ResourceMonitor } from ${JSON.stringify(`${import.meta.dir}/monitor.ts`)};`,
      "const sampler = { sample: async () => ({ cpuPercent: 1, memoryPercent: 1, gpuPercent: null, vramUsedMb: null, vramTotalMb: null, at: Date.now() }) };",
      "const m = new ResourceMonitor({ sampler, intervalMs: 50 });",
      "m.start();",
      'm.control.pause("server", { durationSecs: 3600 });',
      "setTimeout(() => console.log(m.status(0), m.stats().reading !== null), 120);",
    ].join("\n");
    const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 10_000);
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearTimeout(timer);
    expect(out.trim()).toBe("paused true");
    expect(code).toBe(0);
  });

  test("idle (no job, nothing over its threshold) samples every idleIntervalMs; a load going over or a job, every intervalMs", async () => {
    let jobs = 0;
    const hints: (boolean | undefined)[] = [];
    const scripted = new ScriptedSampler();
    const sampler: LoadSampler = {
      sample: (hint) => {
        hints.push(hint?.idle);
        return scripted.sample();
      },
    };
    const monitor = new ResourceMonitor({ sampler, ownJobRunning: () => jobs > 0, control: new PauseControl({ scheduler: manualClock }) });
    expect(monitor.nextIntervalMs()).toBe(5000);
    await samples(monitor, 1);
    expect(monitor.nextIntervalMs()).toBe(5000);
    jobs = 1;
    expect(monitor.nextIntervalMs()).toBe(2000);
    await samples(monitor, 1);
    jobs = 0;
    scripted.cpu = 99; // over: timed towards throttling at the fast rate
    await samples(monitor, 1);
    expect(monitor.isIdle()).toBe(false);
    expect(monitor.nextIntervalMs()).toBe(2000);
    await samples(monitor, 6);
    expect(monitor.throttle.state).toBe("throttled");
    expect(monitor.nextIntervalMs()).toBe(5000); // throttled: the calm window needs no fast samples
    expect(hints.slice(0, 4)).toEqual([true, false, true, false]);
    monitor.dispose();
    const given = new ResourceMonitor({ sampler: new ScriptedSampler(), intervalMs: 300 });
    expect(given.nextIntervalMs()).toBe(300); // an explicit interval applies to both unless idleIntervalMs is given
    const both = new ResourceMonitor({ sampler: new ScriptedSampler(), intervalMs: 300, idleIntervalMs: 100 });
    expect(both.nextIntervalMs()).toBe(300); // idle is never faster than busy
  });

  test("bad options are refused", () => {
    expect(() => new ResourceMonitor({ sampler: new ScriptedSampler(), idleIntervalMs: Number.NaN })).toThrow("idleIntervalMs");
    expect(() => new ResourceMonitor({ sampler: new ScriptedSampler(), intervalMs: 0 })).toThrow(ResourceConfigError);
    expect(() => new ResourceMonitor({ sampler: new ScriptedSampler(), overrides: { disk: 50 } as never })).toThrow(
      'unknown resource override "disk"',
    );
  });
});
