// The engine against the llama2.c reference, and its generation contract.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { referenceCases, storiesModel } from "../test/fixtures.ts";
import { InvalidOptionError, NoChatTemplateError, PromptTooLongError } from "./errors.ts";
import type { Generation } from "./generation.ts";

// loads models and spawns processes: a minute each on a busy 2-core machine
setDefaultTimeout(120_000);

async function collect(gen: Generation): Promise<string> {
  let text = "";
  for await (const chunk of gen) text += chunk;
  return text;
}

describe("reference continuations (llama2.c, greedy)", async () => {
  for (const c of await referenceCases()) {
    test(c.prompt, async () => {
      const model = await storiesModel();
      const ctx = model.createContext({ contextSize: 512 });
      const promptTokens = model.tokenize(c.prompt).length;
      // at least `steps` tokens in all; keep going until the text is as long as the reference
      const gen = ctx.generate(c.prompt, { temperature: 0, maxTokens: Math.max(c.steps - promptTokens, 1) + 64 });
      const text = await collect(gen);
      const r = await gen.result;
      ctx.dispose();
      expect(promptTokens + r.generatedTokens).toBeGreaterThanOrEqual(c.steps);
      expect((c.prompt + text).slice(0, c.expected.length)).toBe(c.expected);
      expect(r.text).toBe(text);
    });
  }
});

describe("generation", () => {
  test("the same seed gives the same text; another seed another", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 256 });
    const opts = { temperature: 1, topK: 0, topP: 1, minP: 0, maxTokens: 60 };
    const a = await ctx.generate("Once upon a time", { ...opts, seed: 42 }).result;
    const b = await ctx.generate("Once upon a time", { ...opts, seed: 42 }).result;
    const c = await ctx.generate("Once upon a time", { ...opts, seed: 43 }).result;
    ctx.dispose();
    expect(a.text.length).toBeGreaterThan(20);
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
  });

  test("maxTokens ends with finishReason length", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 256 });
    const r = await ctx.generate("Once upon a time", { temperature: 0, maxTokens: 7 }).result;
    ctx.dispose();
    expect(r.generatedTokens).toBe(7);
    expect(r.finishReason).toBe("length");
    expect(r.stopDetail).toBe("max_tokens");
  });

  test("a stop string ends generation before it, and is not returned", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 256 });
    // greedy output is ", there was a little girl named Lily. She loved ..."
    const gen = ctx.generate("Once upon a time", { temperature: 0, maxTokens: 100, stop: ["named", "zzz"] });
    const text = await collect(gen);
    const r = await gen.result;
    ctx.dispose();
    expect(text).toBe(", there was a little girl ");
    expect(r.finishReason).toBe("stop");
    expect(r.stopDetail).toBe("stop_string");
  });

  test("the model's end-of-text token ends with finishReason stop", async () => {
    // stories260K's stories never end on their own (llama2.c stops at BOS), so bias EOS up
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 256 });
    const gen = ctx.generate("Once upon a time", { temperature: 0, logitBias: { [model.eos]: 100 } });
    const text = await collect(gen);
    const r = await gen.result;
    const comma = model.tokenize(",", { addSpecial: false }).at(-1) as number;
    const banned = await ctx.generate("Once upon a time", { temperature: 0, maxTokens: 5, logitBias: { [comma]: -100 } }).result;
    ctx.dispose();
    expect(r).toMatchObject({ finishReason: "stop", stopDetail: "eos", generatedTokens: 0, text: "" });
    expect(text).toBe("");
    expect(banned.text.length).toBeGreaterThan(0);
    expect(banned.text.startsWith(",")).toBe(false); // greedy would start with ","
  });

  test("an AbortSignal cancels mid-generation", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 2048 });
    const ac = new AbortController();
    const gen = ctx.generate("Once upon a time", { temperature: 0, maxTokens: 1000, ignoreEos: true, signal: ac.signal });
    let chunks = 0;
    for await (const _ of gen) {
      if (++chunks === 10) ac.abort();
    }
    const r = await gen.result;
    expect(r.finishReason).toBe("cancelled");
    expect(r.generatedTokens).toBeGreaterThanOrEqual(10);
    expect(r.generatedTokens).toBeLessThan(1000);
    // the sequence is free again and its cache cleared: the next run gives the greedy text
    const again = await ctx.generate("Once upon a time", { temperature: 0, maxTokens: 5 }).result;
    expect(again.text).toBe(", there was a little");
    ctx.dispose();
  });

  test("breaking out of the iteration cancels the generation", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 2048 });
    const gen = ctx.generate("Once upon a time", { temperature: 0, maxTokens: 1000, ignoreEos: true });
    for await (const _ of gen) break;
    expect((await gen.result).finishReason).toBe("cancelled");
    ctx.dispose();
  });

  test("two sequences generated at once give the same text as one after the other", async () => {
    const model = await storiesModel();
    const prompts = ["Once upon a time", "Tom and Sue went to the beach", "The cat sat on the mat"];
    const alone = model.createContext({ contextSize: 256 });
    const sequential: string[] = [];
    for (const p of prompts) sequential.push((await alone.generate(p, { temperature: 0, maxTokens: 80 }).result).text);
    alone.dispose();
    const shared = model.createContext({ contextSize: 256, sequences: 2 });
    // three generations on two sequences: the third waits for a free one
    const gens = prompts.map((p) => shared.generate(p, { temperature: 0, maxTokens: 80 }));
    const together = await Promise.all(gens.map((g) => collect(g)));
    shared.dispose();
    expect(together).toEqual(sequential);
  });

  test("a prompt that does not fit the context is refused before any work", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 32 }); // llama.cpp rounds up to 256 cells
    expect(ctx.contextSize).toBe(256);
    expect(() => ctx.generate("Once upon a time ".repeat(80))).toThrow(PromptTooLongError);
    expect(() => ctx.generate(new Array(256).fill(403))).toThrow(/256 tokens but the context holds 256/);
    expect(ctx.generate(new Array(255).fill(403), { maxTokens: 1 })).toBeDefined();
    ctx.dispose();
  });

  test("a generation that fills its context ends with length / context_full", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 32 });
    const r = await ctx.generate("Once upon a time", { temperature: 0, ignoreEos: true }).result;
    expect(r.finishReason).toBe("length");
    expect(r.stopDetail).toBe("context_full");
    expect(r.promptTokens + r.generatedTokens).toBe(ctx.contextSize + 1); // every cell decoded + the last sampled token
    ctx.dispose();
  });

  test("invalid options are named", async () => {
    const model = await storiesModel();
    const ctx = model.createContext({ contextSize: 64 });
    expect(() => ctx.generate("x", { temperature: -1 })).toThrow(/temperature/);
    expect(() => ctx.generate("x", { maxTokens: 0 })).toThrow(/maxTokens/);
    expect(() => ctx.generate("x", { stop: [""] })).toThrow(/stop/);
    expect(() => ctx.generate([99999])).toThrow(InvalidOptionError);
    expect(() => ctx.generate("", { addSpecial: false })).toThrow(/prompt/);
    ctx.dispose();
  });
});

describe("tokenizer and template", () => {
  test("tokenize and detokenize round-trip", async () => {
    const model = await storiesModel();
    for (const text of ["Once upon a time", 'Lily\'s mom said, "Hello!"\nThe end.', "a  b   c", "üñí ✓ 日本"]) {
      const tokens = model.tokenize(text, { addSpecial: false });
      expect(tokens.length).toBeGreaterThan(0);
      expect(model.detokenize(tokens).replace(/^ /, "")).toBe(text);
    }
    const withBos = model.tokenize("Once upon a time");
    expect(withBos[0]).toBe(model.bos);
    expect(model.detokenize(withBos).trim()).toBe("Once upon a time");
  });

  test("a model without a chat template says so; a named template formats", async () => {
    const model = await storiesModel();
    expect(model.info.chatTemplate).toBeNull();
    expect(() => model.applyChatTemplate([{ role: "user", content: "hi" }])).toThrow(NoChatTemplateError);
    const text = model.applyChatTemplate(
      [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
      { template: "chatml" },
    );
    expect(text).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  });

  test("model info comes from the GGUF", async () => {
    const model = await storiesModel();
    expect(model.info).toMatchObject({ architecture: "llama", vocabSize: 512, layers: 5, embeddingLength: 64, contextLength: 2048 });
    expect(model.info.parameters).toBeGreaterThan(250_000);
  });
});
