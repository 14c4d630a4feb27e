// Manual pauses from the server and locally (fake timers), server commands, and the effective status table.
import { describe, expect, test } from "bun:test";
import { fixtures, variantFixtures } from "@gogrid/protocol";
import { applyServerCommand, effectiveStatus, type PauseChange, PauseControl, type PauseSource, type Scheduler } from "./control.ts";
import { PauseError } from "./errors.ts";

/** A clock that only moves when told to, with one-shot timers. */
class FakeScheduler implements Scheduler {
  time = 1_700_000_000_000;
  timers: { at: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.time;
  }

  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.time + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.time = Math.max(this.time, due.at);
      due.live = false;
      due.fn();
    }
    this.time = end;
  }
}

function setup() {
  const clock = new FakeScheduler();
  const control = new PauseControl({ scheduler: clock });
  const changes: PauseChange[] = [];
  control.onChange((c) => changes.push(c));
  return { clock, control, changes };
}

describe("PauseControl", () => {
  test("a server pause with a duration resumes on its own when it expires", () => {
    const { clock, control, changes } = setup();
    const pause = control.pause("server", { reason: "maintenance window", durationSecs: 3600 });
    expect(pause).toEqual({ source: "server", reason: "maintenance window", since: clock.time, until: clock.time + 3_600_000 });
    clock.advance(3_599_999);
    expect(control.isPaused()).toBe(true);
    clock.advance(1);
    expect(control.isPaused()).toBe(false);
    expect(changes.map((c) => [c.source, c.cause, c.paused])).toEqual([
      ["server", "pause", true],
      ["server", "expired", false],
    ]);
    expect(clock.pending()).toBe(0);
  });

  test("a local pause without a duration stays until resumed", () => {
    const { clock, control } = setup();
    control.pause("local", { reason: "gaming" });
    expect(clock.pending()).toBe(0);
    clock.advance(30 * 86_400_000);
    expect(control.get("local")).toMatchObject({ source: "local", reason: "gaming", until: null });
    expect(control.resume("local")).toBe(true);
    expect(control.isPaused()).toBe(false);
    expect(control.resume("local")).toBe(false);
  });

  test("both sources combine: paused while either is active, each resumes only its own", () => {
    const { clock, control, changes } = setup();
    control.pause("local");
    control.pause("server", { durationSecs: 60 });
    expect(control.active().map((p) => p.source)).toEqual(["server", "local"]);
    control.resume("server");
    expect(control.isPaused()).toBe(true); // the contributor's pause stays
    control.pause("server", { durationSecs: 60 });
    clock.advance(60_000);
    expect(control.isPaused()).toBe(true);
    control.resume("local");
    expect(control.isPaused()).toBe(false);
    expect(changes.map((c) => `${c.source}:${c.cause}:${c.paused}`)).toEqual([
      "local:pause:true",
      "server:pause:true",
      "server:resume:true",
      "server:pause:true",
      "server:expired:true",
      "local:resume:false",
    ]);
  });

  test("pausing again replaces the source's pause and its timer", () => {
    const { clock, control } = setup();
    control.pause("server", { durationSecs: 10 });
    control.pause("server", { durationSecs: 100, reason: "longer" });
    expect(clock.pending()).toBe(1);
    clock.advance(10_000);
    expect(control.get("server")?.reason).toBe("longer");
    control.pause("server"); // now indefinite
    clock.advance(1_000_000);
    expect(control.isPaused()).toBe(true);
    expect(clock.pending()).toBe(0);
  });

  test("a late timer does not leave an expired pause visible", () => {
    const clock = new FakeScheduler();
    const control = new PauseControl({ scheduler: { now: () => clock.now(), schedule: () => () => {} } }); // timers never fire
    control.pause("local", { durationSecs: 5 });
    clock.time += 5000;
    expect(control.isPaused()).toBe(false);
    expect(control.active()).toEqual([]);
  });

  test("a pause longer than setTimeout's limit re-arms until due", () => {
    const { clock, control } = setup();
    control.pause("local", { durationSecs: 40 * 86_400 }); // 40 days > 2^31 − 1 ms
    clock.advance(2_147_483_647);
    expect(control.isPaused()).toBe(true);
    expect(clock.pending()).toBe(1);
    clock.advance(40 * 86_400_000 - 2_147_483_647);
    expect(control.isPaused()).toBe(false);
  });

  test("bad durations and sources are refused with a code", () => {
    const { control } = setup();
    for (const durationSecs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => control.pause("server", { durationSecs })).toThrow(PauseError);
    }
    try {
      control.pause("tray" as PauseSource);
      throw new Error("expected a throw");
    } catch (error) {
      expect((error as PauseError).code).toBe("invalid_pause_source");
    }
    expect(control.isPaused()).toBe(false);
  });

  test("dispose cancels auto-resume timers", () => {
    const { clock, control } = setup();
    control.pause("server", { durationSecs: 1 });
    control.dispose();
    expect(clock.pending()).toBe(0);
  });
});

describe("applyServerCommand", () => {
  test("the coordinator's pause and resume commands drive the server pause", () => {
    const { clock, control } = setup();
    expect(applyServerCommand(control, fixtures.command)).toBe("paused");
    expect(control.get("server")).toMatchObject({ reason: "maintenance window", until: clock.time + 3_600_000 });
    control.pause("local");
    expect(applyServerCommand(control, variantFixtures.commandResume)).toBe("resumed");
    expect(control.get("server")).toBeNull();
    expect(control.get("local")).not.toBeNull(); // the server cannot lift the contributor's pause
    expect(applyServerCommand(control, { action: "restart" })).toBe("unhandled");
  });

  test("a pause command without duration lasts until the resume command", () => {
    const { clock, control } = setup();
    applyServerCommand(control, { action: "pause" });
    clock.advance(7 * 86_400_000);
    expect(control.get("server")).toMatchObject({ reason: null, until: null });
    applyServerCommand(control, { action: "resume" });
    expect(control.isPaused()).toBe(false);
  });
});

describe("effectiveStatus", () => {
  test("paused beats throttled beats busy/idle", () => {
    const table = [
      [true, true, 2, "paused"],
      [true, false, 0, "paused"],
      [false, true, 3, "throttled"],
      [false, true, 0, "throttled"],
      [false, false, 1, "busy"],
      [false, false, 0, "idle"],
    ] as const;
    for (const [paused, throttled, runningJobs, status] of table) {
      expect(effectiveStatus({ paused, throttled, runningJobs })).toBe(status);
    }
  });
});
