// The trust score, the output comparison and worker classes.
import { describe, expect, test } from "bun:test";
import { compareOutputs, mismatchesToQuarantine, trustPolicy, trustScore, workerClass } from "./model.ts";

describe("compareOutputs", () => {
  test("identical is a match, an early split a mismatch, a late split inconclusive", () => {
    const honest = "Once upon a time there was a little girl named Lily. She loved to play outside.";
    expect(compareOutputs(honest, honest)).toBe("match");
    expect(compareOutputs("", "")).toBe("match");
    expect(compareOutputs(honest, "The quick brown fox jumps over the lazy dog, and then it slept.")).toBe("mismatch");
    expect(compareOutputs(honest, "")).toBe("mismatch");
    expect(compareOutputs("", honest)).toBe("mismatch");
    // a near-tie flipped after most of the text: noise we cannot rule out
    const late = `${honest.slice(0, 60)}He went to the park.`;
    expect(compareOutputs(honest, late)).toBe("inconclusive");
    // the same split early in the text: someone made it up
    expect(compareOutputs(honest, `${honest.slice(0, 10)}dragons and castles and a very long detour indeed`)).toBe("mismatch");
    // exactly half of the longer text agreed is still noise; one character less is not
    expect(compareOutputs("aaaabbbb", "aaaacccc")).toBe("inconclusive");
    expect(compareOutputs("aaaabbbb", "aaaXcccc")).toBe("mismatch");
  });
});

describe("trust", () => {
  test("Beta-style score: 1 without evidence, matches lift it, mismatches pull it down", () => {
    expect(trustScore(0, 0, 8)).toBe(1);
    expect(trustScore(10, 0, 8)).toBe(1);
    expect(trustScore(0, 2, 8)).toBeCloseTo(0.8, 12);
    expect(trustScore(2, 2, 8)).toBeCloseTo(10 / 12, 12);
    expect(trustScore(-5, -1, 8)).toBe(1); // negative counts are clamped
  });

  test("defaults (prior 8, threshold 0.7): 4 straight mismatches quarantine; an honest record needs many more", () => {
    const policy = trustPolicy(8, 0.7);
    expect(mismatchesToQuarantine(policy)).toBe(4);
    expect(mismatchesToQuarantine(policy, 10)).toBe(8);
    expect(mismatchesToQuarantine(policy, 100)).toBe(47);
    expect(policy.score(3, 3)).toBeGreaterThanOrEqual(policy.threshold);
  });

  test("bad settings are refused with the value", () => {
    expect(() => trustPolicy(0, 0.7)).toThrow("audit trust prior must be positive, got 0");
    expect(() => trustPolicy(8, 1)).toThrow("audit trust threshold must be in [0, 1), got 1");
  });
});

describe("workerClass", () => {
  test("GPU backends and architecture from register; CPU-only when no GPU", () => {
    const gpu = (backend: string) => ({ name: "g", vendor: "v", vram_mb: 1, backend });
    expect(workerClass({ gpu_info: [gpu("cuda"), gpu("cuda")], arch: "x64" })).toBe("cuda/x64");
    expect(workerClass({ gpu_info: [gpu("vulkan"), gpu("cuda")], arch: "x64" })).toBe("cuda+vulkan/x64");
    expect(workerClass({ gpu_info: [], arch: "arm64" })).toBe("cpu/arm64");
    expect(workerClass({ gpu_info: [gpu("metal")], arch: "arm64" })).toBe("metal/arm64");
    expect(workerClass(null)).toBe("cpu/unknown");
    expect(workerClass({ gpu_info: "junk", arch: 7 })).toBe("cpu/unknown");
  });
});
