// bench:engine's flags and model table: the GPU backend choice and the 1B Q4_0 model.
import { expect, test } from "bun:test";
import { benchModel } from "./models.ts";
import { BenchUsageError, parseOptions } from "./options.ts";

test("--backend and --models 1b-q4 are parsed; the CPU build stays the default", () => {
  expect(parseOptions([]).backend).toBe("cpu");
  const o = parseOptions(["--backend", "vulkan", "--models", "1b-q4,1b"]);
  expect(o.backend).toBe("vulkan");
  expect(o.models).toEqual(["1b-q4", "1b"]);
  expect(() => parseOptions(["--backend", "opencl"])).toThrow(BenchUsageError);
  expect(() => parseOptions(["--backend", "opencl"])).toThrow(/unknown backend "opencl"/);
});

test("the 1B models: Q4_0 and Q8_0 files; on a GPU 256 tokens per run and issue 10's 0.97 target", () => {
  const q4 = benchModel("1b-q4", false, null, true);
  expect(q4.name).toBe("1b-q4_0");
  expect(q4.path.endsWith("bench-models/1b-q4_0.gguf")).toBe(true);
  expect(q4.makeType).toBe("q4_0");
  expect(q4.decodeTokens).toBe(256);
  expect(q4.targetVsCLoop).toBe(0.97);
  const q8cpu = benchModel("1b", false, null);
  expect(q8cpu.name).toBe("1b-q8_0");
  expect(q8cpu.decodeTokens).toBe(64);
  expect(q8cpu.targetVsCLoop).toBe(0.99);
  expect(benchModel("stories", false, null).makeType).toBeNull();
});
