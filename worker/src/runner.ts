// Runs job attempts on the native engine: model on hand, generation streamed as job_chunk,
// cancel and timeout honoured, one job_result per attempt.
import { freemem } from "node:os";
import {
  type ChatMessage,
  type ContextStats,
  estimateModelMemory,
  type LlamaContext,
  type LlamaEngine,
  type LlamaModel,
} from "@gogrid/native";
import type { JobAssignmentMessage, ModelRef, WorkerToCoordinator } from "@gogrid/protocol";
import { autoConcurrency } from "./resources/concurrency.ts";

type Log = (level: "debug" | "info" | "warn" | "error", message: string) => void;

export interface ModelProvider {
  /** A local path of the model's file, downloading and verifying it if needed. */
  path(model: ModelRef, signal: AbortSignal): Promise<string>;
}

export interface RunnerOptions {
  engine: LlamaEngine;
  models: ModelProvider;
  send: (m: WorkerToCoordinator) => void;
  /** Sequences per context: jobs that run at the same time on one model; "auto" sizes it at load. */
  maxConcurrent: number | "auto";
  /** Free bytes where the model and its KV cache go (default: free VRAM of the GPUs, else free RAM). */
  freeMemory?: (onGpu: boolean) => number;
  contextSize: number;
  /** CPU threads per decode. */
  threads: number;
  log: Log;
  /** A job's chat messages when the model has no chat template (base models). */
  fallbackTemplate?: string;
}

interface Loaded {
  sha256: string;
  model: LlamaModel;
  /** The shared context: one sequence per concurrent job, batched together. */
  ctx: LlamaContext;
  /** `deterministic` jobs: one sequence, never batched with others (made at the first such job). */
  solo: LlamaContext | null;
}

interface Running {
  fence: string;
  abort: AbortController;
  reason: "cancelled" | "timeout" | null;
}

export interface RunnerStats {
  jobsCompleted: number;
  jobsFailed: number;
  tokensGenerated: number;
  /** Tokens per second of the last completed job. */
  lastTokensPerSecond: number;
  /** Highest process RSS seen during a job, MiB. */
  peakMemoryMb: number;
}

export class JobRunner {
  private loaded: Loaded | null = null;
  /** "auto" with no model loaded: the last loaded context's sequences, or the estimate from a cached model's header. */
  private estimated: number | null = null;
  /** Set by unloadWhenIdle(): free the model once the running jobs are done. */
  private unloadReason: string | null = null;
  private loading: Promise<Loaded> | null = null;
  private readonly running = new Map<string, Running>();
  readonly stats: RunnerStats = { jobsCompleted: 0, jobsFailed: 0, tokensGenerated: 0, lastTokensPerSecond: 0, peakMemoryMb: 0 };

  constructor(private readonly o: RunnerOptions) {}

  get active(): number {
    return this.running.size;
  }

  /**
   * Jobs this worker takes at once: the loaded context's sequences, else the estimate, else the
   * configured number (1 for "auto" with nothing known yet).
   */
  get capacity(): number {
    if (this.loaded) return this.loaded.ctx.sequences;
    if (typeof this.o.maxConcurrent === "number") return this.o.maxConcurrent;
    return this.estimated ?? 1;
  }

  /** Whether a model is loaded now (false after unloadWhenIdle() freed it). */
  get modelLoaded(): boolean {
    return this.loaded !== null;
  }

  private onGpu(): boolean {
    return this.o.engine.backendName !== "cpu";
  }

  private freeBytes(): number {
    if (this.o.freeMemory) return this.o.freeMemory(this.onGpu());
    if (!this.onGpu()) return freemem();
    return this.o.engine
      .devices()
      .filter((d) => d.type !== "cpu")
      .reduce((sum, d) => sum + d.memoryFreeBytes, 0);
  }

  private sequencesFor(kvBytesPerToken: number, contextPerSequence: number, modelBytes: number, freeBytes: number, what: string): number {
    if (typeof this.o.maxConcurrent === "number") return this.o.maxConcurrent;
    const d = autoConcurrency({ kvBytesPerToken, contextPerSequence, freeBytes, modelBytes, onGpu: this.onGpu() });
    this.o.log("info", `max_concurrent_jobs = auto for ${what}: ${d.reason}`);
    return d.jobs;
  }

  /**
   * For "auto" before a model is loaded (what `register` reports): sizes for the largest of
   * these cached model files, read from its GGUF header. Returns the capacity.
   */
  async estimate(files: { path: string; size: number }[]): Promise<number> {
    if (typeof this.o.maxConcurrent === "number" || this.loaded || files.length === 0) return this.capacity;
    const largest = files.reduce((a, b) => (b.size > a.size ? b : a));
    try {
      const m = await estimateModelMemory(largest.path);
      const perSeq = Math.min(this.o.contextSize, m.contextLength || this.o.contextSize);
      this.estimated = this.sequencesFor(m.kvBytesPerToken, perSeq, m.sizeBytes, this.freeBytes(), `cached ${largest.path}`);
    } catch (e) {
      this.o.log("warn", `could not size max_concurrent_jobs from ${largest.path}: ${(e as Error).message}`);
    }
    return this.capacity;
  }

  /**
   * Frees the model and its context (VRAM) now if no job runs, else as soon as the running ones
   * end; the next job loads it again. keepLoaded() calls this off if it has not happened yet.
   */
  unloadWhenIdle(reason: string): void {
    this.unloadReason = reason;
    this.unloadIfIdle();
  }

  keepLoaded(): void {
    this.unloadReason = null;
  }

  /** Models replaced by another while jobs still ran on them: freed when their last job ends. */
  private readonly retired: Loaded[] = [];

  private disposeRetired(): void {
    for (let i = this.retired.length - 1; i >= 0; i--) {
      const r = this.retired[i] as (typeof this.retired)[number];
      if (r.ctx.pending > 0 || (r.solo?.pending ?? 0) > 0) continue;
      this.retired.splice(i, 1);
      r.model.dispose();
    }
  }

  private unloadIfIdle(): void {
    this.disposeRetired();
    if (this.unloadReason === null || this.running.size > 0 || this.loading || !this.loaded) return;
    const { model, sha256 } = this.loaded;
    this.loaded = null;
    model.dispose();
    this.o.log("info", `model ${sha256.slice(0, 12)} unloaded: ${this.unloadReason}`);
  }

  /** Model ids this worker has loaded (reported as capabilities). */
  loadedSha(): string | null {
    return this.loaded?.sha256 ?? null;
  }

  /** Steps and tokens of the loaded model's shared and deterministic contexts (tests, stats). */
  contextStats(): { shared: ContextStats; solo: ContextStats | null } | null {
    if (!this.loaded) return null;
    return { shared: this.loaded.ctx.stats(), solo: this.loaded.solo?.stats() ?? null };
  }

  /**
   * The context for a job on `ref`, loading the model if needed. A `deterministic` job gets the
   * one-sequence context, so its tokens never share a batch (its output does not depend on
   * what else runs); such jobs queue there one after the other.
   */
  private async context(ref: ModelRef, signal: AbortSignal, deterministic: boolean): Promise<LlamaContext> {
    const pick = (l: Loaded) => {
      if (!deterministic) return l.ctx;
      l.solo ??= l.model.createContext({ contextSize: l.ctx.contextSize, sequences: 1, threads: this.o.threads });
      return l.solo;
    };
    if (this.loaded?.sha256 === ref.sha256) return pick(this.loaded);
    while (this.loading) await this.loading.catch(() => {});
    if (this.loaded?.sha256 === ref.sha256) return pick(this.loaded);
    const load = (async () => {
      const path = await this.o.models.path(ref, signal);
      // another model is loaded: free it now if nothing runs on it, else once its jobs end
      if (this.loaded) {
        this.retired.push(this.loaded);
        this.loaded = null;
        this.disposeRetired();
      }
      // measured before the load: on the CPU an mmap'd model still counts as free memory
      const free = this.freeBytes();
      const model = await this.o.engine.loadModel(path);
      const contextSize = Math.min(this.o.contextSize, model.info.contextLength || this.o.contextSize);
      let ctx: LlamaContext;
      try {
        const sequences = this.sequencesFor(model.kvBytesPerToken(), contextSize, model.info.sizeBytes, free, `model ${ref.id}`);
        ctx = model.createContext({ contextSize, sequences, threads: this.o.threads });
      } catch (e) {
        model.dispose();
        throw e;
      }
      const loaded: Loaded = { sha256: ref.sha256, model, ctx, solo: null };
      this.loaded = loaded;
      this.estimated = ctx.sequences;
      this.o.log("info", `model ${ref.id} loaded (${model.info.description}, ${ctx.sequences} sequences of ${ctx.contextSize} tokens)`);
      return loaded;
    })();
    this.loading = load;
    try {
      return pick(await load);
    } finally {
      this.loading = null;
    }
  }

  private prompt(model: LlamaModel, job: JobAssignmentMessage): string {
    if (job.prompt !== undefined) return job.prompt;
    const messages: ChatMessage[] = job.messages ?? [];
    const template = model.info.chatTemplate ?? this.o.fallbackTemplate ?? "chatml";
    return model.applyChatTemplate(messages, { template });
  }

  /** Runs one attempt to its job_result. Never throws. */
  async run(job: JobAssignmentMessage): Promise<void> {
    const entry: Running = { fence: job.fence, abort: new AbortController(), reason: null };
    this.running.set(job.job_id, entry);
    this.o.send({ type: "job_accept", job_id: job.job_id, fence: job.fence });
    const timer = setTimeout(() => {
      entry.reason = "timeout";
      entry.abort.abort();
    }, job.timeout_secs * 1000);
    const t0 = performance.now();
    let seq = 0;
    let firstAt: number | null = null;
    try {
      const ctx = await this.context(job.model, entry.abort.signal, job.deterministic === true);
      const p = job.params;
      const gen = ctx.generate(this.prompt(ctx.model, job), {
        maxTokens: p.max_tokens,
        temperature: p.temperature,
        topK: p.top_k,
        topP: p.top_p,
        minP: p.min_p,
        repeatPenalty: p.repeat_penalty,
        seed: p.seed,
        stop: p.stop,
        signal: entry.abort.signal,
        addSpecial: true,
      });
      let peakRss = process.memoryUsage.rss();
      let sinceRss = 0;
      for await (const text of gen) {
        firstAt ??= performance.now();
        if (++sinceRss >= 16) {
          sinceRss = 0;
          peakRss = Math.max(peakRss, process.memoryUsage.rss());
        }
        this.o.send({ type: "job_chunk", job_id: job.job_id, fence: job.fence, seq: seq++, text });
      }
      const r = await gen.result;
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      const timings = {
        queue_ms: r.timings.queuedMs,
        ttft_ms: firstAt === null ? null : firstAt - t0,
        total_ms: performance.now() - t0,
        tokens_per_sec: r.decodeTokensPerSecond,
        peak_memory_mb: Math.round(peakRss / 2 ** 20),
      };
      const usage = { prompt_tokens: r.promptTokens, completion_tokens: r.generatedTokens };
      if (r.finishReason === "cancelled") {
        const timeout = entry.reason === "timeout";
        this.o.send({
          type: "job_result",
          job_id: job.job_id,
          fence: job.fence,
          status: timeout ? "failed" : "cancelled",
          finish_reason: timeout ? null : "cancelled",
          usage,
          timings,
          ...(timeout ? { error: { code: "timeout", message: `the attempt ran past ${job.timeout_secs} s` } } : {}),
        });
        return;
      }
      this.stats.jobsCompleted++;
      this.stats.tokensGenerated += r.generatedTokens;
      this.stats.lastTokensPerSecond = r.decodeTokensPerSecond;
      this.stats.peakMemoryMb = Math.max(this.stats.peakMemoryMb, timings.peak_memory_mb);
      this.o.send({
        type: "job_result",
        job_id: job.job_id,
        fence: job.fence,
        status: "completed",
        finish_reason: r.finishReason,
        text: r.text,
        usage,
        timings,
      });
    } catch (e) {
      this.stats.jobsFailed++;
      const err = e as Error & { code?: string };
      this.o.log("warn", `job ${job.job_id} failed: ${err.message}`);
      this.o.send({
        type: "job_result",
        job_id: job.job_id,
        fence: job.fence,
        status: "failed",
        finish_reason: null,
        usage: { prompt_tokens: 0, completion_tokens: 0 },
        timings: { ttft_ms: null, total_ms: performance.now() - t0, tokens_per_sec: 0 },
        error: {
          code: (err.code ?? "worker_error").replace(/[^a-z0-9_]/g, "_").slice(0, 64) || "worker_error",
          message: err.message.slice(0, 500),
        },
      });
    } finally {
      clearTimeout(timer);
      this.running.delete(job.job_id);
      this.unloadIfIdle();
    }
  }

  cancel(jobId: string, fence: string): void {
    const r = this.running.get(jobId);
    if (r && r.fence === fence) {
      r.reason = "cancelled";
      r.abort.abort();
    }
  }

  /** Cancels everything (shutdown, pause with cancel). */
  cancelAll(): void {
    for (const r of this.running.values()) {
      r.reason = "cancelled";
      r.abort.abort();
    }
  }

  dispose(): void {
    this.cancelAll();
    this.loaded?.model.dispose();
    this.loaded = null;
    for (const r of this.retired.splice(0)) r.model.dispose();
  }
}
