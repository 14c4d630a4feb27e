// Version negotiation: overlap picks the highest common version; gaps say who must update.
import { describe, expect, test } from "bun:test";
import { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from "./version.ts";

function mismatch(...args: [number, number, number, number]): string {
  const result = negotiateVersion(...args);
  if (result.ok) throw new Error(`expected a mismatch, got version ${result.version}`);
  expect(result.error.code).toBe("unsupported_version");
  expect(result.error.fatal).toBe(true);
  return result.error.message;
}

describe("negotiateVersion", () => {
  test("this build speaks its own version", () => {
    expect(PROTOCOL_VERSION).toBe(2);
    expect(MIN_PROTOCOL_VERSION).toBe(1);
    expect(negotiateVersion(MIN_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION)).toEqual({
      ok: true,
      version: 2,
    });
    // a worker of the first release still agrees with this coordinator, on 1
    expect(negotiateVersion(1, 1, MIN_PROTOCOL_VERSION, MAX_PROTOCOL_VERSION)).toEqual({ ok: true, version: 1 });
  });

  test("picks the highest version both speak", () => {
    expect(negotiateVersion(1, 3, 2, 5)).toEqual({ ok: true, version: 3 });
    expect(negotiateVersion(2, 5, 1, 3)).toEqual({ ok: true, version: 3 });
    expect(negotiateVersion(1, 9, 4, 4)).toEqual({ ok: true, version: 4 });
    expect(negotiateVersion(3, 3, 1, 3)).toEqual({ ok: true, version: 3 });
  });

  test("old worker: update the worker", () => {
    expect(mismatch(1, 1, 2, 3)).toBe("worker speaks protocol 1–1, coordinator 2–3: update the worker");
  });

  test("worker newer than the coordinator: update the coordinator", () => {
    const message = mismatch(2, 3, 1, 1);
    expect(message).toStartWith("worker speaks protocol 2–3, coordinator 1–1: the worker is newer than this coordinator");
    expect(message).toContain("update the coordinator");
  });

  test("invalid ranges are refused with a reason", () => {
    expect(mismatch(3, 1, 1, 3)).toContain("worker announced an invalid protocol range 3–1");
    expect(mismatch(0, 1, 1, 1)).toContain("worker announced an invalid protocol range 0–1");
    expect(mismatch(1.5, 2, 1, 3)).toContain("invalid protocol range");
    expect(mismatch(1, 1, 2, 1)).toContain("coordinator is configured with an invalid protocol range 2–1");
    expect(mismatch(Number.NaN, 1, 1, 1)).toContain("invalid protocol range");
  });

  test("symmetric ranges: the result never lies outside either range", () => {
    for (let a = 1; a <= 4; a++)
      for (let b = a; b <= 4; b++)
        for (let c = 1; c <= 4; c++)
          for (let d = c; d <= 4; d++) {
            const result = negotiateVersion(a, b, c, d);
            const overlap = Math.max(a, c) <= Math.min(b, d);
            expect(result.ok).toBe(overlap);
            if (result.ok) expect(result.version).toBe(Math.min(b, d));
          }
  });
});
