// `gogrid-worker bench`: what this machine earns with a model: decode speed at 1 and N streams.
import { availableParallelism } from "node:os";
import { LlamaEngine } from "@gogrid/native";
import type { Command } from "commander";
import { intArg } from "../cli-args.ts";

interface BenchFlags {
  model: string;
  tokens: number;
  streams: number[];
  threads?: number;
}

export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("Measure generation speed on this machine with a GGUF model (tokens/s at 1 and more concurrent jobs)")
    .requiredOption("-m, --model <path>", "GGUF model file")
    .option("-n, --tokens <n>", "tokens generated per job", intArg("--tokens", 8, 100_000), 128)
    .option(
      "--streams <list>",
      "concurrent jobs to try, comma-separated",
      (v: string) => v.split(",").map((x) => intArg("--streams", 1, 256)(x.trim())),
      [1, 4],
    )
    .option("--threads <n>", "CPU threads (default: all cores)", intArg("--threads", 1, 1024))
    .action(async (f: BenchFlags) => {
      process.exitCode = await runBench(f);
    });
}

export async function runBench(f: BenchFlags): Promise<number> {
  try {
    const engine = await LlamaEngine.open({ logLevel: "error" });
    const model = await engine.loadModel(f.model);
    const threads = f.threads ?? availableParallelism();
    console.log(`model ${model.info.description}; backend ${engine.choice.variant.name}; ${threads} threads`);
    console.log("streams  aggregate tok/s  per stream tok/s");
    const rows: { streams: number; aggregate: number }[] = [];
    for (const n of f.streams) {
      const ctx = model.createContext({ contextSize: 512, sequences: n, threads });
      const prompt = [model.bos, ...Array.from({ length: 31 }, (_, i) => 10 + ((i * 37) % (model.info.vocabSize - 20)))];
      await ctx.generate(prompt, { temperature: 0, maxTokens: 8, ignoreEos: true }).result; // warm-up
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: n }, () => ctx.generate(prompt, { temperature: 0, maxTokens: f.tokens, ignoreEos: true }).result),
      );
      const secs = (performance.now() - t0) / 1000;
      const tokens = results.reduce((s, r) => s + r.generatedTokens, 0);
      rows.push({ streams: n, aggregate: tokens / secs });
      console.log(`${String(n).padStart(7)}  ${(tokens / secs).toFixed(1).padStart(15)}  ${(tokens / secs / n).toFixed(1).padStart(16)}`);
      ctx.dispose();
    }
    console.log(
      JSON.stringify({
        model: model.info.name ?? f.model,
        backend: engine.backendName,
        threads,
        results: rows.map((r) => ({ streams: r.streams, tokens_per_second: Math.round(r.aggregate * 10) / 10 })),
      }),
    );
    model.dispose();
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`gogrid-worker bench: ${err.message}${err.code ? ` [${err.code}]` : ""}\n`);
    return 1;
  }
}
