// Continuous batching: one decode per step for every sequence, joins between steps, chunked prompts, same text as alone.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { storiesModel } from "../test/fixtures.ts";
import type { StepInfo } from "./context.ts";
import type { Generation } from "./generation.ts";

setDefaultTimeout(120_000);

async function collect(gen: Generation, onChunk?: (n: number) => void): Promise<string> {
  let text = "";
  let n = 0;
  for await (const chunk of gen) {
    text += chunk;
    onChunk?.(++n);
  }
  return text;
}

const PROMPTS = [
  "Once upon a time",
  "Tom and Sue went to the beach",
  "The cat sat on the mat",
  "Lily had a big red ball. She liked to play with it in the park every day with her friends",
];

/** A stories context of `sequences` sequences whose decode steps are recorded. */
async function recordedContext(sequences: number) {
  const model = await storiesModel();
  const ctx = model.createContext({ contextSize: 256, sequences });
  const steps: StepInfo[] = [];
  ctx.onStep((s) => steps.push(s));
  return { ctx, steps };
}

const opts = (maxTokens: number) => ({ temperature: 0, maxTokens, ignoreEos: true });

describe("continuous batching", () => {
  test("every step advances all generating sequences in one llama_decode", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 256, sequences: 3 });
    const steps: StepInfo[] = [];
    ctx.onStep((s) => steps.push(s));
    const gens = PROMPTS.slice(0, 3).map((p) => ctx.generate(p, { temperature: 0, maxTokens: 40, ignoreEos: true }));
    const results = await Promise.all(gens.map((g) => g.result));
    const stats = ctx.stats();
    ctx.dispose();
    for (const r of results) expect(r.generatedTokens).toBe(40);
    // one step reads all three prompts (they fit one batch), then 39 steps feed back a token for each
    expect(stats.steps).toBe(steps.length);
    expect(stats.steps).toBe(40);
    expect(steps[0]?.prompt.map((p) => p.tokens)).toEqual(PROMPTS.slice(0, 3).map((p) => model.tokenize(p).length));
    for (const s of steps.slice(1, -1)) expect(s.generating.length).toBe(3);
    expect(stats.generatedTokens).toBe(3 * 39);
    expect(stats.peakGenerating).toBe(3);
  });

  test("a batch lists its sequences in ascending order and a new job takes the lowest free sequence", async () => {
    // llama.cpp splits a per-sequence KV cache's batch at every break in ascending, consecutive
    // sequence ids, one pass over the weights each: order and dense ids are what keep a step one pass
    const { ctx, steps } = await recordedContext(4);
    const long = [ctx.generate(PROMPTS[0] as string, opts(60)), ctx.generate(PROMPTS[2] as string, opts(60))];
    const b = ctx.generate(PROMPTS[1] as string, opts(4)); // sequence 2: done first
    const d = ctx.generate(PROMPTS[3] as string, opts(10)); // sequence 3: done next, so freed last
    await b.result;
    await d.result;
    const joinedAt = steps.length;
    const e = ctx.generate("The dog ran", opts(8));
    await Promise.all([...long.map((g) => g.result), e.result]);
    ctx.dispose();
    // admitted in order: 0 and 1 (the long ones), 2 (b), 3 (d); once b and d end, 2 and 3 are
    // free and e takes 2, the lowest (not 3, the last freed), so the busy ids stay 0, 1, 2
    expect(steps[0]?.order).toEqual([0, 1, 2, 3]);
    const eFirst = steps.slice(joinedAt).find((s) => s.prompt.length > 0);
    expect(eFirst?.prompt.map((p) => p.seq)).toEqual([2]);
    expect(eFirst?.order).toEqual([0, 1, 2]);
    for (const s of steps) expect(s.order).toEqual([...s.order].sort((x, y) => x - y));
  });

  test("kvUnified: one shared KV buffer, and still contextSize cells per sequence", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 64, sequences: 2, kvUnified: true });
    expect(ctx.contextSize).toBe(64); // llama.cpp would report the shared 128 cells
    const filler = ctx.generate("Once upon a time", opts(200)); // runs into its own 64 cells
    const short = ctx.generate("The cat", opts(10));
    const [f, s] = await Promise.all([filler.result, short.result]);
    ctx.dispose();
    expect(f.stopDetail).toBe("context_full");
    expect(f.promptTokens + f.generatedTokens - 1).toBe(64); // cells: every token but the last one sampled
    expect(s.stopDetail).toBe("max_tokens");
    expect(s.generatedTokens).toBe(10);
  });

  test("a sequence that ends between busy ones: the highest moves into its id and goes on with the same text", async () => {
    const model = await storiesModel();
    const solo = model.createContext({ contextSize: 256, sequences: 1 });
    const alone = await collect(solo.generate(PROMPTS[2] as string, opts(60)));
    solo.dispose();
    const { ctx, steps } = await recordedContext(4);
    const running = [0, 1, 3].map((i) => ctx.generate(PROMPTS[i] as string, opts(i === 1 ? 4 : 60)));
    const moved = ctx.generate(PROMPTS[2] as string, opts(60)); // sequence 3, moved to 1
    const movedText = collect(moved);
    await running[1]?.result; // sequence 1 ended; 0, 2 and 3 still generate
    const endedAt = steps.length;
    expect(ctx.stats().moves).toBe(1);
    const e = ctx.generate("The dog ran", opts(8));
    await Promise.all([running[0]?.result, running[2]?.result, moved.result, e.result]);
    ctx.dispose();
    const after = steps.slice(endedAt);
    // the busy ids stayed dense: the step after the hole generates 0, 1, 2, and the newcomer takes 3
    expect(after[0]?.generating).toEqual([0, 1, 2]);
    expect(after.find((s) => s.prompt.length > 0)?.prompt.map((p) => p.seq)).toEqual([3]);
    for (const s of steps) expect(s.order).toEqual([...s.order].sort((x, y) => x - y));
    // its KV cache went with it: the same temperature-0 text as alone
    expect(await movedText).toBe(alone);
  });

  test("a new job joins between steps and the running one keeps getting a token every step", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 512, sequences: 2 });
    const steps: StepInfo[] = [];
    ctx.onStep((s) => steps.push(s));
    const a = ctx.generate(PROMPTS[0] as string, { temperature: 0, maxTokens: 120, ignoreEos: true });
    let b: Generation | null = null;
    let stepsAtJoin = 0;
    const aText = collect(a, (n) => {
      if (n === 10 && !b) {
        stepsAtJoin = steps.length;
        b = ctx.generate(PROMPTS[1] as string, { temperature: 0, maxTokens: 20, ignoreEos: true });
      }
    });
    await aText;
    const bResult = await (b as unknown as Generation).result;
    const aResult = await a.result;
    ctx.dispose();
    expect(bResult.generatedTokens).toBe(20);
    expect(aResult.generatedTokens).toBe(120);
    const aSeq = steps[1]?.generating[0] as number;
    // b generated its tokens in steps that also advanced a (b ran while a was running)
    const bSteps = steps.filter((s) => s.generating.some((q) => q !== aSeq));
    expect(bSteps.length).toBe(19);
    for (const s of bSteps) expect(s.generating).toContain(aSeq);
    const joined = steps.findIndex((s, i) => i >= stepsAtJoin && s.prompt.length > 0);
    expect(joined).toBeGreaterThanOrEqual(stepsAtJoin);
    // b's prompt was decoded in the same call as a's next token, within a few steps of arriving
    expect(steps[joined]?.generating).toContain(aSeq);
    expect(joined - stepsAtJoin).toBeLessThanOrEqual(2);
    // from then on every step until a ends carries a's token
    for (const s of steps.slice(joined, -1)) expect(s.generating).toContain(aSeq);
  });

  test("a long prompt is read in chunks of promptChunk while others generate", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 512, sequences: 2, promptChunk: 16 });
    const steps: StepInfo[] = [];
    ctx.onStep((s) => steps.push(s));
    const long = PROMPTS[3]?.repeat(4) as string;
    const longTokens = model.tokenize(long).length;
    expect(longTokens).toBeGreaterThan(64);
    const a = ctx.generate(PROMPTS[0] as string, { temperature: 0, maxTokens: 60, ignoreEos: true });
    const aText = collect(a, (n) => {
      if (n === 3) ctx.generate(long, { temperature: 0, maxTokens: 5, ignoreEos: true });
    });
    await aText;
    while (ctx.pending > 0) await Bun.sleep(5);
    ctx.dispose();
    const aSeq = steps[1]?.generating[0] as number;
    const longSteps = steps.filter((s) => s.prompt.some((p) => p.seq !== aSeq && p.tokens > 0));
    expect(longSteps.length).toBe(Math.ceil(longTokens / 16));
    for (const s of longSteps) {
      expect(s.generating).toEqual([aSeq]);
      expect(s.batchTokens).toBeLessThanOrEqual(17);
    }
    // alone, a prompt takes the whole batch in one step
    const solo = model.createContext({ contextSize: 512, sequences: 1, promptChunk: 16 });
    const soloSteps: StepInfo[] = [];
    solo.onStep((s) => soloSteps.push(s));
    await solo.generate(long, { temperature: 0, maxTokens: 1 }).result;
    solo.dispose();
    expect(soloSteps).toEqual([{ generating: [], prompt: [{ seq: 0, tokens: longTokens }], batchTokens: longTokens, order: [0] }]);
  });

  test("temperature 0: several prompts at once, joining at different times, give the text each gives alone", async () => {
    const model = await storiesModel();
    const prompts = [...PROMPTS, PROMPTS[3]?.repeat(3) as string, "Ben"];
    const alone: string[] = [];
    for (const p of prompts) {
      const ctx = model.createContext({ contextSize: 512 });
      alone.push((await ctx.generate(p, { temperature: 0, maxTokens: 60 }).result).text);
      ctx.dispose();
    }
    expect(new Set(alone).size).toBe(prompts.length);
    const shared = model.createContext({ contextSize: 512, sequences: 4, promptChunk: 8 });
    // two start together, the rest join while they run; six jobs on four sequences
    const first = prompts.slice(0, 2).map((p) => shared.generate(p, { temperature: 0, maxTokens: 60 }));
    const later: Promise<string>[] = [];
    const texts = first.map((g, i) =>
      collect(g, (n) => {
        if (i === 0 && (n === 5 || n === 12)) {
          for (const p of n === 5 ? prompts.slice(2, 4) : prompts.slice(4)) {
            later.push(collect(shared.generate(p, { temperature: 0, maxTokens: 60 })));
          }
        }
      }),
    );
    const together = await Promise.all(texts);
    together.push(...(await Promise.all(later)));
    expect(shared.stats().peakGenerating).toBeGreaterThanOrEqual(3);
    shared.dispose();
    expect(together).toEqual(alone);
  });

  test("temperature 0: twelve jobs of mixed lengths on four sequences, moved into holes again and again, each give the text alone", async () => {
    const model = await storiesModel();
    const words = ["Once upon a time", "The cat", "Tom", "A big red ball", "Lily and Ben", "The sun"];
    const jobs = Array.from({ length: 12 }, (_, i) => ({ prompt: `${words[i % words.length]} ${i}`, tokens: 4 + ((i * 29) % 37) }));
    const alone: string[] = [];
    const solo = model.createContext({ contextSize: 256, sequences: 1 });
    for (const j of jobs) alone.push(await collect(solo.generate(j.prompt, opts(j.tokens))));
    solo.dispose();
    const ctx = model.createContext({ contextSize: 256, sequences: 4 });
    // all submitted at once: eight wait, and each takes the sequence a finished one frees
    const texts = await Promise.all(jobs.map((j) => collect(ctx.generate(j.prompt, opts(j.tokens)))));
    const moves = ctx.stats().moves;
    ctx.dispose();
    expect(moves).toBeGreaterThan(2);
    expect(texts).toEqual(alone);
  });
});
