// A llama.cpp context with several sequences; one decode loop advances them all together.
//
// Context overflow rule: every sequence owns `contextSize` KV cells. A prompt must be shorter
// than that (PromptTooLongError otherwise, before any work); a generation that fills its cells
// ends with finishReason "length" (stopDetail "context_full"). Nothing is silently truncated
// or shifted, so the text is always the model's real continuation of the whole prompt.
import { availableParallelism } from "node:os";
import type { ContextOptions, ContextStats, GenerateOptions, Job, StepInfo } from "./context-options.ts";
import {
  ContextCreateError,
  DecodeError,
  DisposedError,
  InvalidOptionError,
  LlamaError,
  OutOfMemoryError,
  PromptTooLongError,
} from "./errors.ts";
import type { Pointer } from "./ffi.ts";
import { ptr } from "./ffi.ts";
import { type FinishReason, Generation, type GenerationResult, type StopDetail } from "./generation.ts";
import type { LlamaModel } from "./model.ts";
import { buildSampler, resolveSampling } from "./sampling.ts";
import { StopMatcher } from "./stop.ts";

export type { ContextOptions, ContextStats, GenerateOptions, StepInfo };

export class LlamaContext {
  readonly contextSize: number;
  readonly sequences: number;
  readonly batchSize: number;
  readonly promptChunk: number;
  private handle: Pointer | null;
  private readonly batch: Pointer;
  private readonly memory: Pointer;
  private readonly freeSeqs: number[] = [];
  private readonly waiting: Job[] = [];
  private readonly active: Job[] = [];
  private running = false;
  private readonly tokens: Int32Array;
  private readonly pos: Int32Array;
  private readonly seqIds: Int32Array;
  private readonly logits: Int8Array;
  private pieceBuf = new Uint8Array(256);
  private threadpool: { pool: Pointer; free(): void } | null = null;
  private readonly counters: ContextStats = { steps: 0, generatedTokens: 0, promptTokens: 0, peakGenerating: 0, moves: 0 };
  /** Move a sequence into the hole a finished one leaves (not with a unified KV cache: ids do not matter there). */
  private readonly fillHoles: boolean;
  private closing = false;
  /** `active` in ascending sequence order; null when admission, release or a move changed it. */
  private bySeq: Job[] | null = null;
  private readonly stepListeners = new Set<(step: StepInfo) => void>();

  /** @internal use model.createContext() */
  constructor(
    readonly model: LlamaModel,
    modelHandle: Pointer,
    options: ContextOptions,
    private readonly onDispose: () => void,
  ) {
    const seqs = options.sequences ?? 1;
    if (!Number.isInteger(seqs) || seqs < 1 || seqs > 256) throw new InvalidOptionError("sequences", seqs, "an integer from 1 to 256");
    const perSeq = options.contextSize ?? Math.min(model.info.contextLength || 4096, 4096);
    if (!Number.isInteger(perSeq) || perSeq < 16) throw new InvalidOptionError("contextSize", perSeq, "an integer ≥ 16");
    const batchSize = options.batchSize ?? 512;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidOptionError("batchSize", batchSize, "an integer ≥ 1");
    const promptChunk = options.promptChunk ?? 128;
    if (!Number.isInteger(promptChunk) || promptChunk < 1) throw new InvalidOptionError("promptChunk", promptChunk, "an integer ≥ 1");
    const threads = options.threads ?? availableParallelism();
    const b = model.backend;
    // Refuse what cannot fit before llama.cpp tries: a huge allocation can push the machine
    // into swap long before it fails.
    const kvBytes = model.kvBytesPerToken() * perSeq * seqs;
    const freeBytes = b.devices().reduce((sum, d) => sum + d.memoryFreeBytes, 0);
    if (freeBytes > 0 && kvBytes > freeBytes) {
      throw new OutOfMemoryError(
        `a context of ${perSeq}×${seqs} tokens needs ${(kvBytes / 2 ** 30).toFixed(1)} GiB of KV cache but only ${(freeBytes / 2 ** 30).toFixed(1)} GiB is free: use a smaller contextSize or fewer sequences`,
      );
    }
    const kvUnified = options.kvUnified === true;
    this.fillHoles = !kvUnified && options.fillHoles !== false;
    const flags = (kvUnified ? 1 : 0) | (options.flashAttention ? 2 : 0);
    b.log.clearRecent();
    const h = b.shim.gg_new_context(modelHandle, perSeq * seqs, batchSize, batchSize, seqs, threads, threads, flags) as Pointer | null;
    b.drainLog();
    if (!h) {
      const said = b.log.problems().join("; ");
      if (/bad_alloc|failed to allocate|out of memory|ErrorOutOfDeviceMemory/i.test(said)) {
        throw new OutOfMemoryError(
          `not enough memory for a context of ${perSeq}×${seqs} tokens (${said}): use a smaller contextSize or fewer sequences`,
        );
      }
      throw new ContextCreateError(
        `could not create a context of ${perSeq}×${seqs} tokens${said ? `: ${said}` : ""}; try a smaller contextSize or fewer sequences`,
      );
    }
    this.handle = h;
    // CPU builds: one persistent threadpool per context instead of threads made in every decode
    if (b.variant.backend === "cpu" && threads > 1) {
      this.threadpool = b.newThreadpool(threads);
      if (this.threadpool) b.llama.llama_attach_threadpool(h, this.threadpool.pool, this.threadpool.pool);
    }
    // unified, llama.cpp reports the whole shared cache per sequence: keep each sequence to its
    // own share, so the overflow rule above holds and one job cannot fill every cell
    const perSeqCells = b.llama.llama_n_ctx_seq(h);
    this.contextSize = kvUnified ? Math.min(perSeq, perSeqCells) : perSeqCells;
    this.sequences = seqs;
    this.batchSize = b.llama.llama_n_batch(h);
    this.promptChunk = promptChunk;
    this.memory = b.llama.llama_get_memory(h) as Pointer;
    const cap = Math.max(this.batchSize, seqs);
    const batch = b.shim.gg_batch_new(cap) as Pointer | null;
    if (!batch) {
      b.llama.llama_free(h);
      throw new ContextCreateError("out of memory allocating the batch");
    }
    this.batch = batch;
    this.tokens = new Int32Array(cap);
    this.pos = new Int32Array(cap);
    this.seqIds = new Int32Array(cap);
    this.logits = new Int8Array(cap);
    for (let i = seqs - 1; i >= 0; i--) this.freeSeqs.push(i); // descending: pop() gives the lowest
  }

  get disposed(): boolean {
    return this.handle === null;
  }

  /** Generations running or waiting for a sequence. */
  get pending(): number {
    return this.active.length + this.waiting.length;
  }

  stats(): ContextStats {
    return { ...this.counters };
  }

  /** Calls `listener` after every decode step with what it held; returns the unsubscribe function. */
  onStep(listener: (step: StepInfo) => void): () => void {
    this.stepListeners.add(listener);
    return () => this.stepListeners.delete(listener);
  }

  /**
   * Starts generating a continuation of `prompt` (text, or token ids used as they are).
   * Invalid options and over-long prompts throw here; everything later is reported through
   * the returned Generation.
   */
  generate(prompt: string | ArrayLike<number>, options: GenerateOptions = {}): Generation {
    if (!this.handle) throw new DisposedError("the context");
    const tokens =
      typeof prompt === "string" ? this.model.tokenize(prompt, { addSpecial: options.addSpecial ?? true }) : Int32Array.from(prompt);
    if (tokens.length === 0) throw new InvalidOptionError("prompt", prompt, "text or tokens that give at least one token");
    const vocab = this.model.info.vocabSize;
    for (const t of tokens) if (t < 0 || t >= vocab) throw new InvalidOptionError("prompt token", t, `an id from 0 to ${vocab - 1}`);
    if (tokens.length >= this.contextSize) throw new PromptTooLongError(tokens.length, this.contextSize);
    const maxTokens = options.maxTokens ?? Number.POSITIVE_INFINITY;
    if (maxTokens !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
      throw new InvalidOptionError("maxTokens", maxTokens, "an integer ≥ 1");
    }
    const stops = options.stop ?? [];
    if (!Array.isArray(stops) || stops.some((s) => typeof s !== "string" || s.length === 0)) {
      throw new InvalidOptionError("stop", stops, "a list of non-empty strings");
    }
    resolveSampling(options); // validate now, build when admitted
    const job: Job = {
      gen: new Generation(() => {
        job.cancelled = true;
        this.kick();
      }),
      prompt: tokens,
      promptDone: 0,
      promptTake: 0,
      pos: 0,
      seq: -1,
      sampler: null,
      lastToken: -1,
      batchIndex: -1,
      generated: 0,
      maxTokens,
      ignoreEos: options.ignoreEos ?? false,
      text: "",
      decoder: new TextDecoder("utf-8"),
      stop: new StopMatcher(stops),
      signal: options.signal,
      cancelled: false,
      tCreated: performance.now(),
      tAdmitted: 0,
      tFirst: 0,
      options,
    };
    options.signal?.addEventListener("abort", () => job.gen.cancel(), { once: true });
    this.waiting.push(job);
    this.kick();
    return job.gen;
  }

  private kick(): void {
    if (this.running || !this.handle) return;
    this.running = true;
    queueMicrotask(() => void this.loop());
  }

  private async loop(): Promise<void> {
    let lastYield = performance.now();
    try {
      while (this.handle && (this.active.length > 0 || this.waiting.length > 0)) {
        this.admitAndCancel();
        if (this.active.length === 0) break;
        this.step();
        // Let other work (sockets, timers, consumers) run: microtasks every step, I/O every 4 ms.
        const now = performance.now();
        if (now - lastYield > 4) {
          await new Promise<void>((r) => setImmediate(r));
          lastYield = performance.now();
        } else {
          await null;
        }
      }
    } catch (e) {
      for (const job of [...this.active, ...this.waiting]) this.fail(job, e);
    } finally {
      this.running = false;
    }
    if (this.handle && this.waiting.length > 0) this.kick();
  }

  private admitAndCancel(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const job = this.waiting[i] as Job;
      if (job.cancelled || job.signal?.aborted) {
        this.waiting.splice(i, 1);
        this.finish(job, "cancelled", "cancelled");
      }
    }
    while (this.waiting.length > 0 && this.freeSeqs.length > 0) {
      const job = this.waiting.shift() as Job;
      job.seq = this.freeSeqs.pop() as number;
      job.tAdmitted = performance.now();
      job.sampler = buildSampler(this.model.backend, this.model.info.vocabSize, resolveSampling(job.options));
      this.active.push(job);
      this.bySeq = null;
    }
    for (let i = this.active.length - 1; i >= 0; i--) {
      const job = this.active[i] as Job;
      if (job.cancelled || job.signal?.aborted) this.finish(job, "cancelled", "cancelled");
    }
  }

  /**
   * One llama_decode over every active sequence: a token for each generating sequence (so none
   * starves) and prompt chunks, handed out in arrival order. While any sequence generates, the
   * prompt tokens of one step are capped at promptChunk, so a long new prompt is spread over
   * several steps instead of holding up the streams.
   *
   * The batch lists its tokens in ascending sequence order. llama.cpp cuts the batch of a
   * per-sequence (non-unified) KV cache into one ubatch per run of consecutive, increasing
   * sequence ids (llama_batch_allocr::split_equal), each a full pass over the weights: 64 jobs in
   * a scrambled order cost up to 64 passes per step instead of one (measured 3.7× slower on an
   * H200). Ids are handed out lowest first for the same reason.
   */
  private step(): void {
    const L = this.model.backend.llama;
    const shim = this.model.backend.shim;
    const ctx = this.handle as Pointer;
    let n = 0;
    let generatingCount = 0;
    // who took part in the step: only built when someone listens (onStep)
    const listening = this.stepListeners.size > 0;
    const generating: number[] | null = listening ? [] : null;
    const promptParts: { seq: number; tokens: number }[] | null = listening ? [] : null;
    const batchOrder: number[] | null = listening ? [] : null;
    for (const job of this.active) if (job.promptDone >= job.prompt.length) generatingCount++;
    const room = this.tokens.length - generatingCount;
    let promptBudget = generatingCount > 0 ? Math.min(this.promptChunk, room) : room;
    for (const job of this.active) {
      const left = job.prompt.length - job.promptDone;
      job.promptTake = Math.min(left, Math.max(0, promptBudget));
      promptBudget -= job.promptTake;
    }
    this.bySeq ??= [...this.active].sort((a, b) => a.seq - b.seq);
    for (const job of this.bySeq) {
      job.batchIndex = -1;
      if (job.promptDone >= job.prompt.length) {
        this.tokens[n] = job.lastToken;
        this.pos[n] = job.pos;
        this.seqIds[n] = job.seq;
        this.logits[n] = 1;
        job.batchIndex = n++;
        job.pos++;
        generating?.push(job.seq);
        batchOrder?.push(job.seq);
        continue;
      }
      const take = job.promptTake;
      if (take === 0) continue;
      for (let k = 0; k < take; k++) {
        this.tokens[n] = job.prompt[job.promptDone + k] as number;
        this.pos[n] = job.pos + k;
        this.seqIds[n] = job.seq;
        this.logits[n] = 0;
        n++;
      }
      job.promptDone += take;
      job.pos += take;
      promptParts?.push({ seq: job.seq, tokens: take });
      batchOrder?.push(job.seq);
      if (job.promptDone === job.prompt.length) {
        this.logits[n - 1] = 1;
        job.batchIndex = n - 1;
      }
    }
    const status =
      n === 1 && this.logits[0] === 1
        ? shim.gg_decode_one(ctx, this.batch, this.tokens[0] as number, this.pos[0] as number, this.seqIds[0] as number)
        : shim.gg_decode(ctx, this.batch, n, ptr(this.tokens), ptr(this.pos), ptr(this.seqIds), ptr(this.logits));
    this.counters.steps++;
    this.counters.generatedTokens += generatingCount;
    this.counters.promptTokens += n - generatingCount;
    this.counters.peakGenerating = Math.max(this.counters.peakGenerating, generatingCount);
    if (generating && promptParts && batchOrder) {
      const info: StepInfo = { generating, prompt: promptParts, batchTokens: n, order: batchOrder };
      for (const listener of [...this.stepListeners]) listener(info);
    }
    if (status !== 0) {
      this.model.backend.drainLog();
      const err = new DecodeError(status);
      for (const job of [...this.active]) {
        if (status === 1) this.finish(job, "length", "context_full");
        else this.fail(job, err);
      }
      return;
    }
    for (let i = this.active.length - 1; i >= 0; i--) {
      const job = this.active[i] as Job;
      if (job.batchIndex >= 0) this.sample(job, L.llama_sampler_sample(job.sampler, ctx, job.batchIndex));
    }
  }

  private sample(job: Job, token: number): void {
    if (job.generated === 0) job.tFirst = performance.now();
    if (!job.ignoreEos && this.model.isEndOfGeneration(token)) {
      this.finish(job, "stop", "eos");
      return;
    }
    job.generated++;
    job.lastToken = token;
    let len = this.model.tokenBytesInto(token, this.pieceBuf);
    if (len < 0) {
      this.pieceBuf = new Uint8Array(-len * 2);
      len = this.model.tokenBytesInto(token, this.pieceBuf);
    }
    const piece = job.decoder.decode(this.pieceBuf.subarray(0, len), { stream: true });
    if (piece) {
      const { emit, stopped } = job.stop.push(piece);
      if (emit) {
        job.text += emit;
        job.gen.push(emit);
      }
      if (stopped) {
        this.finish(job, "stop", "stop_string", true);
        return;
      }
    }
    if (job.generated >= job.maxTokens) this.finish(job, "length", "max_tokens");
    else if (job.pos >= this.contextSize) this.finish(job, "length", "context_full");
  }

  private release(job: Job): void {
    const i = this.active.indexOf(job);
    if (i >= 0) this.active.splice(i, 1);
    this.bySeq = null;
    if (job.sampler) this.model.backend.llama.llama_sampler_free(job.sampler);
    job.sampler = null;
    if (job.seq >= 0) {
      if (this.handle) this.model.backend.llama.llama_memory_seq_rm(this.memory, job.seq, -1, -1);
      const free = this.fillHole(job.seq);
      // keep the free ids in descending order, so the next job gets the lowest and the busy ids stay dense
      let at = this.freeSeqs.length;
      while (at > 0 && (this.freeSeqs[at - 1] as number) < free) at--;
      this.freeSeqs.splice(at, 0, free);
      job.seq = -1;
    }
  }

  /**
   * A sequence ended at `hole`: the busy sequence with the highest id above it moves there
   * (llama.cpp copies its KV stream before the next decode), so the busy ids stay 0..k-1 and a
   * step stays one pass over the weights (see step()). Returns the id that is free now. One copy
   * of a stream when a job ends costs far less than a pass more at every later step (on a GPU
   * microseconds against milliseconds). Not with a unified KV cache, where ids do not matter.
   */
  private fillHole(hole: number): number {
    if (!this.handle || this.closing || !this.fillHoles) return hole;
    let top: Job | null = null;
    for (const j of this.active) if (j.seq > hole && (top === null || j.seq > top.seq)) top = j;
    if (!top) return hole;
    const L = this.model.backend.llama;
    const from = top.seq;
    L.llama_memory_seq_cp(this.memory, from, hole, -1, -1);
    L.llama_memory_seq_rm(this.memory, from, -1, -1);
    top.seq = hole;
    this.counters.moves++;
    return from;
  }

  private finish(job: Job, reason: FinishReason, detail: StopDetail, droppedRest = false): void {
    this.release(job);
    if (!droppedRest) {
      const tail = job.stop.push(job.decoder.decode());
      const rest = tail.stopped ? tail.emit : tail.emit + job.stop.flush();
      if (rest) {
        job.text += rest;
        job.gen.push(rest);
      }
      if (tail.stopped && reason !== "cancelled") {
        reason = "stop";
        detail = "stop_string";
      }
    }
    const end = performance.now();
    const admitted = job.tAdmitted || end;
    const first = job.tFirst || end;
    const promptMs = first - admitted;
    const decodeMs = end - first;
    const result: GenerationResult = {
      text: job.text,
      promptTokens: job.prompt.length,
      generatedTokens: job.generated,
      finishReason: reason,
      stopDetail: detail,
      timings: { queuedMs: admitted - job.tCreated, promptMs, decodeMs, totalMs: end - job.tCreated },
      promptTokensPerSecond: promptMs > 0 ? (job.promptDone / promptMs) * 1000 : 0,
      decodeTokensPerSecond: decodeMs > 0 && job.generated > 1 ? ((job.generated - 1) / decodeMs) * 1000 : 0,
    };
    job.gen.end(result);
  }

  private fail(job: Job, error: unknown): void {
    this.release(job);
    const i = this.waiting.indexOf(job);
    if (i >= 0) this.waiting.splice(i, 1);
    job.gen.fail(error instanceof LlamaError ? error : new LlamaError("generation_failed", String(error)));
  }

  /** Cancels running generations and frees the context. Safe to call more than once. */
  dispose(): void {
    if (!this.handle) return;
    this.closing = true;
    for (const job of [...this.active, ...this.waiting]) {
      this.finish(job, "cancelled", "cancelled");
    }
    this.waiting.length = 0;
    const h = this.handle;
    this.handle = null;
    this.model.backend.shim.gg_batch_free(this.batch);
    this.model.backend.llama.llama_free(h);
    this.threadpool?.free();
    this.model.backend.drainLog();
    this.onDispose();
  }
}
