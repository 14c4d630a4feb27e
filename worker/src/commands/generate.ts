// `gogrid-worker generate`: run one prompt locally; only the continuation goes to stdout.

import { availableParallelism } from "node:os";
import { type GenerationResult, LlamaEngine, type LlamaModel, type LogLevel } from "@gogrid/native";
import { type Command, Option } from "commander";
import { choiceArg, collect, intArg, numberArg } from "../cli-args.ts";
import { threadsFor } from "../threads.ts";

export interface GenerateFlags {
  model: string;
  prompt?: string;
  promptFile?: string;
  chat: boolean;
  system?: string;
  maxTokens?: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  seed?: number;
  stop: string[];
  contextSize?: number;
  threads?: number;
  gpuLayers?: number;
  backend?: "auto" | "cuda" | "vulkan" | "metal" | "cpu";
  logLevel: LogLevel;
  stats: boolean;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("Generate a continuation of a prompt with a local GGUF model (prints only the generated text)")
    .requiredOption("-m, --model <path>", "GGUF model file")
    .option("-p, --prompt <text>", "prompt text")
    .option("-f, --prompt-file <path>", "read the prompt from a file (- for standard input)")
    .option("--chat", "format the prompt as a user message with the model's chat template", false)
    .option("--system <text>", "system message (with --chat)")
    .option(
      "-n, --max-tokens <n>",
      "most tokens to generate (default: until the model stops or the context is full)",
      intArg("--max-tokens", 1),
    )
    .option("-t, --temperature <t>", "sampling temperature, 0 = greedy", numberArg("--temperature", 0, 100), 0.8)
    .option("--top-k <k>", "keep the k most likely tokens, 0 = off", intArg("--top-k", 0), 40)
    .option("--top-p <p>", "nucleus sampling, 1 = off", numberArg("--top-p", 0.000001, 1), 0.95)
    .option("--min-p <p>", "drop tokens below p × the top probability, 0 = off", numberArg("--min-p", 0, 1), 0.05)
    .option("--repeat-penalty <x>", "penalty for repeated tokens, 1 = off", numberArg("--repeat-penalty", 0.000001, 10), 1)
    .option("--seed <n>", "random seed (same seed, same text)", intArg("--seed", 0, 0xffffffff))
    .option("--stop <text>", "stop before this text (repeatable)", collect, [])
    .option("-c, --context-size <n>", "context size in tokens", intArg("--context-size", 16))
    .option("--threads <n>", "CPU threads (default: half the cores, as the worker's default mode)", intArg("--threads", 1, 1024))
    .option("--gpu-layers <n>", "layers to offload to the GPU, -1 = all", intArg("--gpu-layers", -1))
    .addOption(
      new Option("--backend <name>", "llama.cpp build to use (default: GOGRID_BACKEND, else auto)").choices([
        "auto",
        "cuda",
        "vulkan",
        "metal",
        "cpu",
      ]),
    )
    .addOption(
      new Option("--log-level <level>", "llama.cpp log level on stderr")
        .argParser(choiceArg("--log-level", ["debug", "info", "warn", "error", "silent"] as const))
        .default("error"),
    )
    .option("--stats", "print timing statistics to stderr at the end", false)
    .action(async (flags: GenerateFlags) => {
      process.exitCode = await runGenerate(flags);
    });
}

async function readPrompt(flags: GenerateFlags): Promise<string> {
  if (flags.prompt !== undefined && flags.promptFile !== undefined) {
    throw new UsageError("give either --prompt or --prompt-file, not both");
  }
  if (flags.prompt !== undefined) return flags.prompt;
  if (flags.promptFile === "-") return await new Response(Bun.stdin.stream()).text();
  if (flags.promptFile !== undefined) {
    const file = Bun.file(flags.promptFile);
    if (!(await file.exists())) throw new UsageError(`--prompt-file ${flags.promptFile}: no such file`);
    return await file.text();
  }
  throw new UsageError("a prompt is required: --prompt <text> or --prompt-file <path>");
}

export class UsageError extends Error {
  override name = "UsageError";
}

function formatPrompt(model: LlamaModel, prompt: string, flags: GenerateFlags): string {
  if (!flags.chat) return prompt;
  const messages = flags.system ? [{ role: "system", content: flags.system }] : [];
  messages.push({ role: "user", content: prompt });
  return model.applyChatTemplate(messages);
}

function statsLine(r: GenerationResult, backend: string): string {
  return (
    `[gogrid] ${r.promptTokens} prompt tokens at ${r.promptTokensPerSecond.toFixed(1)} tok/s, ` +
    `${r.generatedTokens} generated at ${r.decodeTokensPerSecond.toFixed(1)} tok/s, ` +
    `finish ${r.finishReason} (${r.stopDetail}), backend ${backend}\n`
  );
}

/** Runs the command; returns the exit code. Errors are printed to stderr, never thrown. */
export async function runGenerate(flags: GenerateFlags): Promise<number> {
  let model: LlamaModel | null = null;
  try {
    const prompt = await readPrompt(flags);
    const engine = await LlamaEngine.open({ ...(flags.backend ? { backend: flags.backend } : {}), logLevel: flags.logLevel });
    model = await engine.loadModel(flags.model, flags.gpuLayers === undefined ? {} : { gpuLayers: flags.gpuLayers });
    const ctx = model.createContext({
      ...(flags.contextSize ? { contextSize: flags.contextSize } : {}),
      threads: flags.threads ?? threadsFor("default", availableParallelism()),
    });
    const abort = new AbortController();
    const onSignal = () => abort.abort();
    process.once("SIGINT", onSignal);
    const gen = ctx.generate(formatPrompt(model, prompt, flags), {
      temperature: flags.temperature,
      topK: flags.topK,
      topP: flags.topP,
      minP: flags.minP,
      repeatPenalty: flags.repeatPenalty,
      stop: flags.stop,
      signal: abort.signal,
      ...(flags.maxTokens ? { maxTokens: flags.maxTokens } : {}),
      ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
    });
    for await (const chunk of gen) process.stdout.write(chunk);
    const r = await gen.result;
    process.off("SIGINT", onSignal);
    if (flags.stats) process.stderr.write(statsLine(r, engine.choice.variant.name));
    ctx.dispose();
    return r.finishReason === "cancelled" ? 130 : 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stderr.write(`gogrid-worker generate: ${err.message}${err.code ? ` [${err.code}]` : ""}\n`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    model?.dispose();
  }
}
