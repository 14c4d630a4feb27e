// autoConcurrency with injected memory figures.
import { describe, expect, test } from "bun:test";
import { AUTO_MAX_JOBS, autoConcurrency } from "./concurrency.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe("max_concurrent_jobs = auto", () => {
  test("divides what is left after the model and the margin by one sequence's KV cache", () => {
    // 8B-class model: 128 KiB of KV per token, 4096 tokens = 512 MiB per sequence; 24 GiB VRAM, 5 GiB weights
    const d = autoConcurrency({
      kvBytesPerToken: 128 * 1024,
      contextPerSequence: 4096,
      freeBytes: 24 * GiB,
      modelBytes: 5 * GiB,
      onGpu: true,
    });
    // margin = max(1 GiB, 15% of 24 GiB = 3.6 GiB); (24 − 5 − 3.6) GiB / 0.5 GiB = 30.8 → 30
    expect(d.jobs).toBe(30);
    expect(d.reason).toContain("24.00 GiB free VRAM");
    expect(d.reason).toContain("0.50 GiB per sequence (4096 tokens)");
  });

  test("uses the 1 GiB floor of the margin on small memory", () => {
    // 4 GiB free RAM, 1 GiB model, 1 GiB margin (15% would be 0.6): 2 GiB / 256 MiB = 8
    const d = autoConcurrency({
      kvBytesPerToken: 64 * 1024,
      contextPerSequence: 4096,
      freeBytes: 4 * GiB,
      modelBytes: 1 * GiB,
      onGpu: false,
    });
    expect(d.jobs).toBe(8);
    expect(d.reason).toContain("free RAM");
  });

  test("is clamped to 16 on the CPU and 64 on a GPU", () => {
    const tiny = { kvBytesPerToken: 2560, contextPerSequence: 2048, freeBytes: 80 * GiB, modelBytes: MiB };
    const cpu = autoConcurrency({ ...tiny, onGpu: false });
    const gpu = autoConcurrency({ ...tiny, onGpu: true });
    expect(cpu.jobs).toBe(AUTO_MAX_JOBS.cpu);
    expect(cpu.jobs).toBe(16);
    expect(cpu.reason).toContain("capped at 16 on the CPU");
    expect(gpu.jobs).toBe(64);
    expect(gpu.reason).toContain("capped at 64 on a GPU");
  });

  test("never goes below 1, even when the model alone does not fit", () => {
    const d = autoConcurrency({
      kvBytesPerToken: 128 * 1024,
      contextPerSequence: 8192,
      freeBytes: 6 * GiB,
      modelBytes: 8 * GiB,
      onGpu: true,
    });
    expect(d.jobs).toBe(1);
    expect(d.reason).toContain("at least 1");
  });

  test("a longer context per sequence means fewer sequences", () => {
    const base = { kvBytesPerToken: 128 * 1024, freeBytes: 24 * GiB, modelBytes: 5 * GiB, onGpu: true };
    const short = autoConcurrency({ ...base, contextPerSequence: 2048 }).jobs;
    const long = autoConcurrency({ ...base, contextPerSequence: 8192 }).jobs;
    expect(short).toBe(61);
    expect(long).toBe(15);
  });

  test("bad figures are named", () => {
    expect(() =>
      autoConcurrency({ kvBytesPerToken: Number.NaN, contextPerSequence: 4096, freeBytes: GiB, modelBytes: 0, onGpu: false }),
    ).toThrow(/kvBytesPerToken must be a finite number/);
    expect(() => autoConcurrency({ kvBytesPerToken: 1, contextPerSequence: 4096, freeBytes: -1, modelBytes: 0, onGpu: false })).toThrow(
      /freeBytes/,
    );
  });
});
