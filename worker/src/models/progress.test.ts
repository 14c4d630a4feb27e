// Progress reporter: time and fraction throttling, never backwards, always ending at the total.
import { expect, test } from "bun:test";
import { progressReporter } from "./progress.ts";

test("reports every intervalMs or step of the total, skips repeats and restarts, ends with (n, n)", () => {
  let t = 0;
  const calls: [number, number | undefined][] = [];
  const p = progressReporter((r, total) => calls.push([r, total]), { intervalMs: 250, step: 0.1, now: () => t });
  p.update(0, 1000); // first: reported
  p.update(50, 1000); // 5%, no time passed: skipped
  p.update(100, 1000); // 10%: reported
  t += 300;
  p.update(110, 1000); // 250 ms passed: reported
  p.update(20, 1000); // a restart from 0: silent until it passes 110
  p.update(110, 1000);
  p.update(1000, 1000); // the end: reported
  p.finish(1000); // already reported
  expect(calls).toEqual([
    [0, 1000],
    [100, 1000],
    [110, 1000],
    [1000, 1000],
  ]);
});

test("with an unknown total only time throttles, and finish reports the size as the total", () => {
  let t = 0;
  const calls: [number, number | undefined][] = [];
  const p = progressReporter((r, total) => calls.push([r, total]), { now: () => t });
  p.update(10, undefined);
  p.update(500, undefined);
  t += 250;
  p.update(600, undefined);
  p.finish(700);
  expect(calls).toEqual([
    [10, undefined],
    [600, undefined],
    [700, 700],
  ]);
});
