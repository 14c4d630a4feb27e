// SystemLoadSampler with a fake systeminformation (own-load exclusion, GPU parsing and caching) and for real.
import { describe, expect, test } from "bun:test";
import {
  type CpuTimes,
  type GpuController,
  gpuLoadFrom,
  type SystemInfoSource,
  SystemLoadSampler,
  type SystemLoadSamplerOptions,
} from "./sampler.ts";

/** A machine whose numbers the test sets; counts the calls. */
class FakeMachine implements SystemInfoSource {
  cpu = 0;
  active = 4;
  total = 16;
  controllers: GpuController[] = [];
  graphicsError: Error | null = null;
  calls = { currentLoad: 0, mem: 0, graphics: 0 };
  /** This process's CPU time (µs) and the monotonic clock (ms). */
  own: CpuTimes = { user: 0, system: 0 };
  mono = 0;

  async currentLoad() {
    this.calls.currentLoad++;
    return { currentLoad: this.cpu };
  }
  async mem() {
    this.calls.mem++;
    return { active: this.active, total: this.total };
  }
  async graphics() {
    this.calls.graphics++;
    if (this.graphicsError) throw this.graphicsError;
    return { controllers: this.controllers };
  }

  /** Lets `ms` of wall time pass, during which we used `ownMs` of CPU time. */
  pass(ms: number, ownMs = 0) {
    this.mono += ms;
    this.own = { user: this.own.user + ownMs * 800, system: this.own.system + ownMs * 200 };
  }
}

function sampler(m: FakeMachine, options: SystemLoadSamplerOptions = {}) {
  const sleeps: number[] = [];
  const s = new SystemLoadSampler({
    source: m,
    cores: 2,
    cpuUsage: () => m.own,
    monotonicMs: () => m.mono,
    now: () => 1_700_000_000_000 + m.mono,
    sleep: async (ms) => {
      sleeps.push(ms);
      m.pass(ms);
    },
    ...options,
  });
  return { s, sleeps };
}

const NVIDIA = { vendor: "NVIDIA" };

describe("SystemLoadSampler (fake machine)", () => {
  test("our own process's CPU is taken out of the machine's load", async () => {
    const m = new FakeMachine();
    const { s, sleeps } = sampler(m);
    m.cpu = 40;
    const first = await s.sample();
    expect(sleeps).toEqual([250]); // primed: the first window is not "since boot"
    expect(m.calls.currentLoad).toBe(2);
    expect(first.cpuPercent).toBe(40);

    m.pass(2000, 2000); // one of two cores busy with our inference for 2 s: 50% of the machine
    m.cpu = 80;
    const busy = await s.sample();
    expect(busy.ownCpuPercent).toBe(50);
    expect(busy.cpuPercent).toBe(30);
    expect(busy.at).toBe(1_700_000_002_250);

    m.pass(2000, 4000); // both cores ours; the machine reports a bit less (different sampling): never negative
    m.cpu = 97;
    expect((await s.sample()).cpuPercent).toBe(0);
  });

  test("memory is active / total", async () => {
    const m = new FakeMachine();
    m.active = 6;
    m.total = 8;
    expect((await sampler(m).s.sample()).memoryPercent).toBe(75);
  });

  test("no controller with live data: GPU is null, and graphics() is asked again only after gpuRetryMs", async () => {
    const m = new FakeMachine();
    m.controllers = [{ vendor: "Intel Corporation" }];
    const { s } = sampler(m);
    const r = await s.sample();
    expect(r).toMatchObject({ gpuPercent: null, vramUsedMb: null, vramTotalMb: null, gpuOwnExcluded: false });
    m.pass(299_000);
    await s.sample();
    expect(m.calls.graphics).toBe(1);
    m.pass(1000);
    await s.sample();
    expect(m.calls.graphics).toBe(2);
  });

  test("while the caller says idle, graphics() is kept for gpuIdleRefreshMs; busy again, the 5 s cache applies", async () => {
    const m = new FakeMachine();
    m.controllers = [{ ...NVIDIA, utilizationGpu: 10, memoryUsed: 1000, memoryTotal: 8000 }];
    const { s } = sampler(m, { gpuIdleRefreshMs: 15_000 });
    expect((await s.sample({ idle: true })).gpuPercent).toBe(10);
    m.controllers = [{ ...NVIDIA, utilizationGpu: 95, memoryUsed: 1000, memoryTotal: 8000 }];
    for (let i = 0; i < 2; i++) {
      m.pass(5000);
      expect((await s.sample({ idle: true })).gpuPercent).toBe(10); // 5 s, 10 s: still cached
    }
    expect(m.calls.graphics).toBe(1);
    m.pass(5000);
    expect((await s.sample({ idle: true })).gpuPercent).toBe(95); // 15 s
    m.controllers = [{ ...NVIDIA, utilizationGpu: 50, memoryUsed: 1000, memoryTotal: 8000 }];
    m.pass(5000);
    expect((await s.sample()).gpuPercent).toBe(50); // not idle: 5 s is old enough
    expect(m.calls.graphics).toBe(3);
  });

  test("graphics() is cached for 5 s, however often we sample", async () => {
    const m = new FakeMachine();
    m.controllers = [{ ...NVIDIA, utilizationGpu: 40, memoryUsed: 1000, memoryTotal: 8000 }];
    const { s } = sampler(m, { gpuRefreshMs: 10 }); // below the floor: 5 s it is
    expect((await s.sample()).gpuPercent).toBe(40);
    m.controllers = [{ ...NVIDIA, utilizationGpu: 90, memoryUsed: 7000, memoryTotal: 8000 }];
    for (let i = 0; i < 4; i++) {
      m.pass(1000);
      expect((await s.sample()).gpuPercent).toBe(40);
    }
    m.pass(1000);
    expect(await s.sample()).toMatchObject({ gpuPercent: 90, vramUsedMb: 7000, vramTotalMb: 8000 });
    expect(m.calls.graphics).toBe(2);
  });

  test("our own GPU use is subtracted when the engine reports it", async () => {
    const m = new FakeMachine();
    m.controllers = [{ ...NVIDIA, utilizationGpu: 85, memoryTotal: 8000, memoryUsed: 3000 }];
    let own: number | null = 60;
    const { s } = sampler(m, { ownGpuPercent: () => own });
    expect(await s.sample()).toMatchObject({ gpuPercent: 25, gpuOwnExcluded: true });
    own = null;
    expect(await s.sample()).toMatchObject({ gpuPercent: 85, gpuOwnExcluded: false });
  });

  test("a failing graphics() gives a null GPU, not a failed sample", async () => {
    const m = new FakeMachine();
    m.graphicsError = new Error("lspci not found");
    const r = await sampler(m).s.sample();
    expect(r.gpuPercent).toBeNull();
    expect(r.memoryPercent).toBe(25);
  });
});

describe("gpuLoadFrom", () => {
  test("busiest GPU, VRAM summed; an NVIDIA GPU without utilisation is idle (systeminformation drops zeros)", () => {
    expect(
      gpuLoadFrom([
        { ...NVIDIA, utilizationGpu: 30, memoryUsed: 1024, memoryTotal: 8192 },
        { ...NVIDIA, utilizationGpu: 75, memoryUsed: 2048.4, memoryTotal: 24576 },
        { vendor: "Intel" },
      ]),
    ).toEqual({ gpuPercent: 75, vramUsedMb: 3072, vramTotalMb: 32768 });
    expect(gpuLoadFrom([{ ...NVIDIA, memoryTotal: 8192 }])).toEqual({ gpuPercent: 0, vramUsedMb: 0, vramTotalMb: 8192 });
    expect(gpuLoadFrom([{ vendor: "AMD", utilizationGpu: 150 }])).toEqual({ gpuPercent: 100, vramUsedMb: null, vramTotalMb: null });
    expect(gpuLoadFrom([])).toBeNull();
  });
});

describe("SystemLoadSampler (this machine)", () => {
  test("real readings are sane percentages", async () => {
    const s = new SystemLoadSampler();
    for (let i = 0; i < 2; i++) {
      const r = await s.sample();
      expect(r.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(r.cpuPercent).toBeLessThanOrEqual(100);
      expect(r.ownCpuPercent).toBeGreaterThanOrEqual(0);
      expect(r.ownCpuPercent).toBeLessThanOrEqual(100);
      expect(r.memoryPercent).toBeGreaterThan(0);
      expect(r.memoryPercent).toBeLessThanOrEqual(100);
      if (r.gpuPercent !== null) {
        expect(r.gpuPercent).toBeGreaterThanOrEqual(0);
        expect(r.gpuPercent).toBeLessThanOrEqual(100);
      }
      expect(Math.abs(r.at - Date.now())).toBeLessThan(5000);
      await Bun.sleep(300);
    }
  });

  test("our own busy thread shows up as own CPU, not as the machine's", async () => {
    const s = new SystemLoadSampler();
    await s.sample();
    const end = performance.now() + 300;
    while (performance.now() < end) {} // 0.3 s of our own CPU
    const r = await s.sample();
    expect(r.ownCpuPercent).toBeGreaterThan(5);
    expect(r.ownCpuPercent).toBeLessThanOrEqual(100);
  });
});
