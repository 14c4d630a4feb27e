// Resource modes and the seed's threshold overrides.
import { describe, expect, test } from "bun:test";
import { ResourceConfigError } from "./errors.ts";
import { MODE_THRESHOLDS, type ResourceMode, thresholdsFor, validateOverrides } from "./modes.ts";

function thrown(fn: () => unknown): ResourceConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ResourceConfigError) return error;
    throw error;
  }
  throw new Error("expected a ResourceConfigError");
}

describe("thresholdsFor", () => {
  test("each mode maps to its GPU/CPU/memory thresholds", () => {
    expect(thresholdsFor("conservative")).toEqual({ cpuPercent: 50, memoryPercent: 70, gpuPercent: 50 });
    expect(thresholdsFor("default")).toEqual({ cpuPercent: 70, memoryPercent: 80, gpuPercent: 70 });
    expect(thresholdsFor("aggressive")).toEqual({ cpuPercent: 90, memoryPercent: 90, gpuPercent: 95 });
  });

  test("overrides replace only the loads they name", () => {
    expect(thresholdsFor("default", { gpu: 85 })).toEqual({ cpuPercent: 70, memoryPercent: 80, gpuPercent: 85 });
    expect(thresholdsFor("conservative", { cpu: 1, memory: 100 })).toEqual({ cpuPercent: 1, memoryPercent: 100, gpuPercent: 50 });
    expect(MODE_THRESHOLDS.conservative.cpuPercent).toBe(50);
  });

  test("an out-of-range override is refused, naming the key", () => {
    for (const [key, value] of [
      ["gpu", 0],
      ["cpu", 101],
      ["memory", Number.NaN],
      ["gpu", "80"],
    ] as const) {
      const error = thrown(() => thresholdsFor("default", { [key]: value } as never));
      expect(error.code).toBe("invalid_override");
      expect(error.key).toBe(key);
      expect(error.message).toContain(`"${key}"`);
      expect(error.name).toBe("ResourceConfigError");
    }
  });

  test("an unknown override key is refused, naming it", () => {
    const error = thrown(() => validateOverrides({ cpu: 60, gpu_percent: 80 }));
    expect(error.code).toBe("unknown_override");
    expect(error.key).toBe("gpu_percent");
    expect(error.message).toContain("gpu_percent");
  });

  test("overrides that are not an object, and unknown modes, are refused", () => {
    expect(thrown(() => validateOverrides([50])).code).toBe("invalid_override");
    expect(validateOverrides(undefined)).toEqual({});
    const error = thrown(() => thresholdsFor("turbo" as ResourceMode));
    expect(error.code).toBe("invalid_resource_mode");
    expect(error.key).toBe("resource_mode");
    expect(error.message).toContain("conservative, default, aggressive");
  });
});
