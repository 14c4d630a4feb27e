// Throttling with injected load readings: sustain windows, hysteresis, counters, GPU handling, live thresholds.
import { describe, expect, test } from "bun:test";
import { ResourceConfigError } from "./errors.ts";
import { thresholdsFor } from "./modes.ts";
import type { LoadReading } from "./sampler.ts";
import { Throttle, type ThrottleChange, type UpdateContext } from "./throttle.ts";

const CALM = { cpu: 10, mem: 30, gpu: 5 as number | null };

function reading(sec: number, load: Partial<typeof CALM> = {}, extra: Partial<LoadReading> = {}): LoadReading {
  const l = { ...CALM, ...load };
  return {
    cpuPercent: l.cpu,
    memoryPercent: l.mem,
    gpuPercent: l.gpu,
    vramUsedMb: null,
    vramTotalMb: null,
    at: 1_700_000_000_000 + sec * 1000,
    ...extra,
  };
}

/** Feeds one reading every `step` seconds over [from, to]; returns the last state. */
function feed(t: Throttle, from: number, to: number, load: Partial<typeof CALM>, step = 2, ctx: UpdateContext = {}) {
  let state = t.state;
  for (let s = from; s <= to; s += step) state = t.update(reading(s, load), ctx);
  return state;
}

function defaultThrottle(): Throttle {
  // default mode: cpu 70, memory 80, gpu 70; over 10 s, under 30 s, hysteresis 10
  return new Throttle({ thresholds: thresholdsFor("default") });
}

describe("Throttle", () => {
  test("a short spike does not throttle", () => {
    const t = defaultThrottle();
    expect(feed(t, 0, 8, { cpu: 99 })).toBe("normal"); // 8 s over
    expect(t.update(reading(10))).toBe("normal"); // calm again: window resets
    expect(feed(t, 12, 20, { gpu: 90 })).toBe("normal");
    expect(t.counters()).toEqual({ pauses: 0, throttledRequests: 0, throttledMs: 0 });
  });

  test("sustained load throttles after overSecs, even when a different load carries it", () => {
    const t = defaultThrottle();
    expect(feed(t, 0, 4, { cpu: 95 })).toBe("normal");
    expect(feed(t, 6, 8, { mem: 85 })).toBe("normal");
    expect(t.update(reading(10, { gpu: 71 }))).toBe("throttled");
    expect(t.overloaded).toEqual(["gpu"]);
    expect(t.counters().pauses).toBe(1);
  });

  test("load exactly at the threshold is not over it", () => {
    const t = defaultThrottle();
    expect(feed(t, 0, 60, { cpu: 70, mem: 80, gpu: 70 })).toBe("normal");
  });

  test("below the threshold but above threshold − hysteresis does not resume", () => {
    const t = defaultThrottle();
    feed(t, 0, 10, { cpu: 90 });
    expect(t.state).toBe("throttled");
    expect(feed(t, 12, 200, { cpu: 65 })).toBe("throttled"); // 65 > 70 − 10
    expect(feed(t, 202, 400, { cpu: 60 })).toBe("throttled"); // must be strictly below 60
  });

  test("resumes only after every load stays below threshold − hysteresis for underSecs", () => {
    const t = defaultThrottle();
    const changes: ThrottleChange[] = [];
    t.onChange((c) => changes.push(c));
    feed(t, 0, 10, { cpu: 90 });
    expect(feed(t, 12, 40, { cpu: 20 })).toBe("throttled"); // 28 s calm
    expect(t.update(reading(42, { cpu: 20, mem: 75 }))).toBe("throttled"); // memory in the dead band: window restarts
    expect(feed(t, 44, 72, { cpu: 20 })).toBe("throttled"); // 28 s
    expect(t.update(reading(74))).toBe("normal"); // 30 s
    expect(changes.map((c) => [c.from, c.to, c.at - reading(0).at, [...c.loads]])).toEqual([
      ["normal", "throttled", 10_000, ["cpu"]],
      ["throttled", "normal", 74_000, []],
    ]);
  });

  test("counts pauses, throttled time and refused requests", () => {
    const t = defaultThrottle();
    feed(t, 0, 10, { cpu: 90 }); // throttled at 10
    t.noteRejected();
    t.noteRejected();
    feed(t, 12, 50, { cpu: 5 }); // calm from 12, resumes at 42
    expect(t.state).toBe("normal");
    expect(t.counters()).toEqual({ pauses: 1, throttledRequests: 2, throttledMs: 32_000 });
    feed(t, 100, 110, { mem: 95 }); // throttled again at 110
    feed(t, 112, 120, { mem: 95 });
    t.noteRejected();
    expect(t.state).toBe("throttled");
    expect(t.counters()).toEqual({ pauses: 2, throttledRequests: 3, throttledMs: 42_000 });
  });

  test("a null GPU reading is ignored, both for throttling and for resuming", () => {
    const t = defaultThrottle();
    expect(feed(t, 0, 60, { gpu: null })).toBe("normal");
    feed(t, 62, 72, { cpu: 90, gpu: null });
    expect(t.state).toBe("throttled");
    expect(feed(t, 74, 104, { gpu: null })).toBe("normal");
  });

  test("GPU load that includes our own job is ignored while the job runs, used when it was subtracted", () => {
    const own: UpdateContext = { ownJobRunning: true };
    const t = defaultThrottle();
    expect(feed(t, 0, 60, { gpu: 100 }, 2, own)).toBe("normal"); // our inference saturates the GPU
    expect(feed(t, 62, 72, { gpu: 100 })).toBe("throttled"); // no job of ours: someone else's load

    const u = defaultThrottle();
    for (let s = 0; s <= 10; s += 2) u.update(reading(s, { gpu: 90 }, { gpuOwnExcluded: true }), own);
    expect(u.state).toBe("throttled"); // already net of our own use
  });

  test("thresholds change live when the mode changes", () => {
    const t = defaultThrottle();
    feed(t, 0, 10, { cpu: 80 });
    expect(t.state).toBe("throttled");
    t.setThresholds(thresholdsFor("aggressive")); // cpu 90: resuming needs < 80
    expect(feed(t, 12, 100, { cpu: 80 })).toBe("throttled");
    expect(feed(t, 102, 130, { cpu: 75 })).toBe("throttled"); // 28 s
    expect(t.update(reading(132, { cpu: 75 }))).toBe("normal");
    expect(t.thresholds.cpuPercent).toBe(90);

    t.setThresholds(thresholdsFor("conservative")); // cpu 50: 75 is over
    expect(feed(t, 134, 142, { cpu: 75 })).toBe("normal");
    expect(t.update(reading(144, { cpu: 75 }))).toBe("throttled");
    expect(t.counters().pauses).toBe(2);
  });

  test("hysteresis is at most half a low threshold, so a 5% override can still resume", () => {
    const t = new Throttle({ thresholds: { cpuPercent: 5, memoryPercent: 80, gpuPercent: 70 }, overSecs: 0, underSecs: 0 });
    expect(t.update(reading(0, { cpu: 6 }))).toBe("throttled");
    expect(t.update(reading(2, { cpu: 2 }))).toBe("normal"); // below 5 − 2.5
  });

  test("a clock that goes back restarts the windows and adds no throttled time", () => {
    const t = defaultThrottle();
    feed(t, 100, 110, { cpu: 90 });
    expect(t.state).toBe("throttled");
    feed(t, 0, 28, { cpu: 5 }); // went back 110 s: calm from 0, but 28 s only
    expect(t.state).toBe("throttled");
    expect(t.counters().throttledMs).toBe(28_000);
    expect(t.update(reading(30))).toBe("normal");
  });

  test("bad options and thresholds are refused, naming the key", () => {
    expect(() => new Throttle({ thresholds: thresholdsFor("default"), overSecs: -1 })).toThrow(ResourceConfigError);
    const t = defaultThrottle();
    try {
      t.setThresholds({ cpuPercent: 70, memoryPercent: 0, gpuPercent: 70 });
      throw new Error("expected a throw");
    } catch (error) {
      expect(error).toBeInstanceOf(ResourceConfigError);
      expect((error as ResourceConfigError).key).toBe("memoryPercent");
      expect((error as ResourceConfigError).code).toBe("invalid_throttle_option");
    }
  });
});
