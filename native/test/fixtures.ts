// Test support: the shared reference model and one CPU engine per test process.
import { join } from "node:path";
import { LlamaEngine } from "../src/engine.ts";
import type { LlamaModel } from "../src/model.ts";

export const SHARED = join(import.meta.dir, "..", "..", "..", "shared");
export const STORIES_MODEL = join(SHARED, "models", "stories260K.gguf");
export const STORIES_REFERENCE = join(SHARED, "reference", "stories260K-greedy.json");

export interface ReferenceCase {
  prompt: string;
  steps: number;
  expected: string;
}

export async function referenceCases(): Promise<ReferenceCase[]> {
  const ref = (await Bun.file(STORIES_REFERENCE).json()) as { cases: ReferenceCase[] };
  return ref.cases;
}

/** The engine on the CPU build (the same one for every test file in this process). */
export function cpuEngine(): Promise<LlamaEngine> {
  return LlamaEngine.open({ backend: "cpu", logLevel: "silent" });
}

let stories: Promise<LlamaModel> | null = null;
export function storiesModel(): Promise<LlamaModel> {
  stories ??= cpuEngine().then((e) => e.loadModel(STORIES_MODEL));
  return stories;
}
