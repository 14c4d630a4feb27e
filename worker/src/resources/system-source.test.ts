// The default load source: /proc/stat and /proc/meminfo parsing, the nvidia-smi GPU query, and the Linux source for real.
import { describe, expect, test } from "bun:test";
import type { CommandRunner } from "./command.ts";
import { gpuLoadFrom, SystemLoadSampler } from "./sampler.ts";
import {
  cpuPercentBetween,
  NVIDIA_SMI_GPU_QUERY,
  nvidiaControllers,
  parseGpuQuery,
  parseMeminfo,
  parseProcStat,
  procSource,
} from "./system-source.ts";

const STAT = (user: number, idle: number, iowait = 0, steal = 0) =>
  `cpu  ${user} 10 100 ${idle} ${iowait} 0 5 ${steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 123 0 0\nctxt 99\n`;

const MEMINFO = "MemTotal:       16000000 kB\nMemFree:         2000000 kB\nMemAvailable:    12000000 kB\nBuffers:  100 kB\n";

describe("/proc parsing", () => {
  test("the aggregate cpu line: busy = user+nice+system+irq+softirq+steal, iowait counts as idle", () => {
    expect(parseProcStat(STAT(1000, 5000, 300, 7))).toEqual({ busy: 1000 + 10 + 100 + 5 + 7, total: 1122 + 5000 + 300 });
    expect(parseProcStat("cpu0 1 2 3 4\nintr 5\n")).toBeNull();
    expect(parseProcStat("cpu  1 x 3 4\n")).toBeNull();
    expect(parseProcStat("")).toBeNull();
  });

  test("CPU percent between two readings; a counter that went back reads 0", () => {
    expect(cpuPercentBetween({ busy: 100, total: 1000 }, { busy: 400, total: 2000 })).toBe(30);
    expect(cpuPercentBetween({ busy: 100, total: 1000 }, { busy: 100, total: 1000 })).toBe(0);
    expect(cpuPercentBetween({ busy: 500, total: 1000 }, { busy: 100, total: 2000 })).toBe(0);
  });

  test("memory: active = total − available in bytes; without MemAvailable, free + buffers + cached", () => {
    expect(parseMeminfo(MEMINFO)).toEqual({ active: 4_000_000 * 1024, total: 16_000_000 * 1024 });
    expect(parseMeminfo("MemTotal: 1000 kB\nMemFree: 200 kB\nBuffers: 100 kB\nCached: 300 kB\n")).toEqual({
      active: 400 * 1024,
      total: 1000 * 1024,
    });
    expect(parseMeminfo("MemFree: 200 kB\n")).toBeNull();
  });
});

describe("nvidia-smi GPU query", () => {
  test("utilisation and memory per GPU; [N/A] fields left out, noise skipped", () => {
    const controllers = parseGpuQuery("37, 2048, 8192\r\n[N/A], 100, 4096\nNo devices were found\n\n");
    expect(controllers).toEqual([
      { vendor: "NVIDIA", utilizationGpu: 37, memoryUsed: 2048, memoryTotal: 8192 },
      { vendor: "NVIDIA", memoryUsed: 100, memoryTotal: 4096 },
    ]);
    expect(gpuLoadFrom(controllers)).toEqual({ gpuPercent: 37, vramUsedMb: 2148, vramTotalMb: 12288 });
    expect(parseGpuQuery("0, 0, 8192\n")).toEqual([{ vendor: "NVIDIA", utilizationGpu: 0, memoryUsed: 0, memoryTotal: 8192 }]);
  });

  test("asks exactly for the three fields as bare CSV; missing or failing nvidia-smi means no controller", async () => {
    const calls: (readonly string[])[] = [];
    const answer =
      (stdout: string, exitCode = 0): CommandRunner =>
      async (argv) => {
        calls.push(argv);
        return { exitCode, stdout };
      };
    expect((await nvidiaControllers(answer("5, 10, 100\n"))).controllers).toHaveLength(1);
    expect(calls[0]).toEqual(NVIDIA_SMI_GPU_QUERY);
    expect((await nvidiaControllers(answer("NVIDIA-SMI has failed", 9))).controllers).toEqual([]);
    expect((await nvidiaControllers(async () => null)).controllers).toEqual([]);
  });
});

describe("procSource", () => {
  test("CPU load is the change since the previous call, memory from /proc/meminfo, GPU from nvidia-smi", async () => {
    let stat = STAT(1000, 5000);
    const reads: string[] = [];
    const source = procSource({
      read: (path) => {
        reads.push(path);
        return path === "/proc/stat" ? stat : MEMINFO;
      },
      run: async () => ({ exitCode: 0, stdout: "80, 1000, 8000\n" }),
    });
    await source.currentLoad(); // since boot
    stat = STAT(1000 + 385, 5000 + 500); // busy +385 of +885
    expect((await source.currentLoad()).currentLoad).toBeCloseTo((385 / 885) * 100, 6);
    expect(await source.mem()).toEqual({ active: 4_000_000 * 1024, total: 16_000_000 * 1024 });
    expect((await source.graphics()).controllers).toEqual([{ vendor: "NVIDIA", utilizationGpu: 80, memoryUsed: 1000, memoryTotal: 8000 }]);
    expect(reads).toEqual(["/proc/stat", "/proc/stat", "/proc/meminfo"]);
  });

  test("unreadable /proc content is an error the monitor counts, not a made-up zero", async () => {
    const source = procSource({ read: () => "garbage", run: async () => null });
    await expect(source.currentLoad()).rejects.toThrow("/proc/stat has no aggregate cpu line");
    await expect(source.mem()).rejects.toThrow("/proc/meminfo has no MemTotal");
  });

  test.if(process.platform === "linux")("for real on Linux: plausible readings without systeminformation", async () => {
    const s = new SystemLoadSampler({ source: procSource(), primeMs: 50 });
    const r = await s.sample();
    expect(r.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(r.cpuPercent).toBeLessThanOrEqual(100);
    expect(r.memoryPercent).toBeGreaterThan(0);
    expect(r.memoryPercent).toBeLessThan(100);
  });
});
