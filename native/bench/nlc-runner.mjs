// node-llama-cpp 3.21.1 side of `bun run bench:engine`: one greedy generation per "run" line on stdin.
//
// Run under node (how node-llama-cpp's users run it):
//   node native/bench/nlc-runner.mjs <model.gguf> <threads> <n_ctx> <decode tokens M> <tokens csv>
// Prints {"ready":true,...} once the model and context are loaded, then answers each "run" line
// with {"pp_tps":..,"tg_tps":..,"pp_ms":..,"tg_ms":..,"prompt_tokens":P,"generated":M}
// ("run N D" generates N tokens instead of M (N = 0: M) and stops early with "aborted":true
// after D ms (0: no limit); "quit" or end of input exits). A run clears the sequence, evaluates the prompt tokens and
// takes M tokens from `sequence.evaluate(prompt, { temperature: 0 })` (greedy; the generator
// does not stop at end-of-generation tokens by itself), detokenizing each one as a caller must.
// pp = time to the first generated token; tg = the M-1 tokens after it, as in GoGrid's figures.
import { createInterface } from "node:readline";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, threadsArg, ctxArg, decodeArg, tokensCsv] = process.argv.slice(2);
if (!modelPath || !tokensCsv) {
  process.stderr.write("usage: node nlc-runner.mjs <model> <threads> <n_ctx> <decode tokens> <tokens csv>\n");
  process.exit(2);
}
const threads = Number(threadsArg);
const contextSize = Number(ctxArg);
const maxDecodeTokens = Number(decodeArg);
const prompt = tokensCsv.split(",").map(Number);

/** @param {unknown} value */
function say(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
// The same context parameters as GoGrid and the C loop: one sequence, batch 512, flash attention auto.
const context = await model.createContext({
  contextSize,
  batchSize: 512,
  sequences: 1,
  threads,
  flashAttention: "auto",
});
const sequence = context.getSequence();

/**
 * @param {number} decodeTokens
 * @param {number} deadlineMs
 */
async function runOnce(decodeTokens, deadlineMs) {
  await sequence.clearHistory();
  const t0 = performance.now();
  let t1 = t0;
  let generated = 0;
  let text = "";
  let aborted = false;
  const tokens = sequence.evaluate(prompt, { temperature: 0 });
  for await (const token of tokens) {
    text += model.detokenize([token]);
    generated++;
    if (generated === 1) t1 = performance.now();
    if (generated >= decodeTokens) break;
    if (deadlineMs > 0 && performance.now() - t0 > deadlineMs) {
      aborted = true;
      break;
    }
  }
  const t2 = performance.now();
  const ppMs = t1 - t0;
  const tgMs = t2 - t1;
  return {
    pp_tps: (prompt.length * 1000) / ppMs,
    tg_tps: generated > 1 ? ((generated - 1) * 1000) / tgMs : 0,
    pp_ms: ppMs,
    tg_ms: tgMs,
    prompt_tokens: prompt.length,
    generated,
    chars: text.length,
    aborted,
  };
}

say({
  ready: true,
  runtime: `node ${process.version}`,
  build: llama.buildType,
  gpu: llama.gpu,
  context_size: context.contextSize,
  threads: context.currentThreads,
  flash_attention: context.flashAttention,
});

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.startsWith("quit")) break;
  if (!line.startsWith("run")) continue;
  try {
    const [n = 0, deadline = 0] = line.slice(3).trim().split(/\s+/).map(Number);
    say(await runOnce(n >= 2 && n <= maxDecodeTokens ? n : maxDecodeTokens, Number.isFinite(deadline) ? deadline : 0));
  } catch (e) {
    say({ error: String(e instanceof Error ? e.message : e) });
  }
}
lines.close();
await context.dispose();
await model.dispose();
await llama.dispose();
process.exit(0);
