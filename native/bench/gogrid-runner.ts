// GoGrid's engine measured in-process: one greedy generation per run, read as a caller reads it.
import type { LlamaContext, LlamaModel } from "../src/index.ts";
import type { EngineRunner, RunFigures, RunOptions } from "./runner.ts";

export class GoGridRunner implements EngineRunner {
  readonly label = "gogrid";
  readonly pid = process.pid;
  private readonly ctx: LlamaContext;

  constructor(
    private readonly model: LlamaModel,
    private readonly prompt: Int32Array,
    private readonly decodeTokens: number,
    options: { threads: number; contextSize: number },
  ) {
    this.ctx = model.createContext({ contextSize: options.contextSize, threads: options.threads, batchSize: 512, sequences: 1 });
  }

  async run(options: RunOptions = {}): Promise<RunFigures> {
    const gen = this.ctx.generate(this.prompt, { temperature: 0, maxTokens: options.decodeTokens ?? this.decodeTokens, ignoreEos: true });
    const timer = options.deadlineMs ? setTimeout(() => gen.cancel(), options.deadlineMs) : null;
    // Consume the text as the worker does (a real generation's cost includes its reader).
    let chars = 0;
    for await (const chunk of gen) chars += chunk.length;
    const r = await gen.result;
    if (timer) clearTimeout(timer);
    void chars;
    return {
      ppTps: r.promptTokensPerSecond,
      tgTps: r.decodeTokensPerSecond,
      generated: r.generatedTokens,
      aborted: r.finishReason === "cancelled",
    };
  }

  async close(): Promise<void> {
    this.ctx.dispose();
    this.model.dispose();
  }
}
