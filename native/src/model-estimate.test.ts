// The header-only memory estimate agrees with what the loaded model says.
import { expect, setDefaultTimeout, test } from "bun:test";
import { STORIES_MODEL, storiesModel } from "../test/fixtures.ts";
import { GgufNotFoundError } from "./gguf/index.ts";
import { estimateModelMemory } from "./model-estimate.ts";

setDefaultTimeout(60_000);

test("stories260K: KV bytes per token and weight size match the loaded model", async () => {
  const est = await estimateModelMemory(STORIES_MODEL);
  const model = await storiesModel();
  expect(est.kvBytesPerToken).toBe(model.kvBytesPerToken());
  expect(est.kvBytesPerToken).toBeGreaterThan(0);
  expect(est.contextLength).toBe(model.info.contextLength);
  // llama_model_size counts the same tensors; allow for alignment padding
  expect(Math.abs(est.sizeBytes - model.info.sizeBytes)).toBeLessThan(64 * 1024);
});

test("a missing file is a GGUF error naming it", async () => {
  await expect(estimateModelMemory("/nonexistent/model.gguf")).rejects.toBeInstanceOf(GgufNotFoundError);
});
