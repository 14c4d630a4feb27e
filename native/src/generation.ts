// A running generation: an AsyncIterable of text chunks plus a promise of its final stats.

export type FinishReason = "stop" | "length" | "cancelled";
/** Why it finished, in more detail than the OpenAI-style finish reason. */
export type StopDetail = "eos" | "stop_string" | "max_tokens" | "context_full" | "cancelled";

export interface GenerationResult {
  text: string;
  promptTokens: number;
  generatedTokens: number;
  finishReason: FinishReason;
  stopDetail: StopDetail;
  timings: {
    /** Waiting for a free sequence slot. */
    queuedMs: number;
    /** Prompt processing up to the first sampled token. */
    promptMs: number;
    /** From the first token to the end. */
    decodeMs: number;
    totalMs: number;
  };
  promptTokensPerSecond: number;
  /** Tokens after the first one, over decodeMs. */
  decodeTokensPerSecond: number;
}

export class Generation implements AsyncIterable<string> {
  readonly result: Promise<GenerationResult>;
  private resolveResult!: (r: GenerationResult) => void;
  private rejectResult!: (e: unknown) => void;
  private readonly chunks: string[] = [];
  private read = 0;
  private finished = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  private iterating = false;

  constructor(private readonly onCancel: () => void) {
    this.result = new Promise<GenerationResult>((res, rej) => {
      this.resolveResult = res;
      this.rejectResult = rej;
    });
    // A caller that only iterates still sees the error; don't also report it as unhandled.
    this.result.catch(() => {});
  }

  /** Stops the generation; it finishes with finishReason "cancelled". */
  cancel(): void {
    if (!this.finished) this.onCancel();
  }

  /** @internal */
  push(text: string): void {
    if (!text) return;
    this.chunks.push(text);
    this.notify();
  }

  /** @internal */
  end(result: GenerationResult): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveResult(result);
    this.notify();
  }

  /** @internal */
  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = error;
    this.rejectResult(error);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.iterating) throw new Error("a Generation can be iterated only once");
    this.iterating = true;
    let completed = false;
    try {
      for (;;) {
        while (this.read < this.chunks.length) {
          const chunk = this.chunks[this.read] as string;
          this.chunks[this.read++] = "";
          yield chunk;
        }
        if (this.finished) {
          if (this.failure) throw this.failure;
          completed = true;
          return;
        }
        await new Promise<void>((r) => {
          this.wake = r;
        });
      }
    } finally {
      // Leaving the loop early (break, return, throw in the body) cancels the generation.
      if (!completed) this.cancel();
    }
  }
}
