// What every measured engine offers the harness, and a child process that answers "run" lines with JSON.
import type { Subprocess } from "bun";

/** One greedy generation: P prompt tokens, then M generated tokens. */
export interface RunFigures {
  /** Prompt tokens per second: P over the time to the first generated token. */
  ppTps: number;
  /** Decode tokens per second: the M-1 tokens after the first, over their time. */
  tgTps: number;
  generated: number;
  /** Stopped at the deadline before M tokens. */
  aborted: boolean;
  /** The C loop: per sequence, FNV-1a of its generated token ids. */
  seqFnv?: number[];
}

export interface RunOptions {
  /** Tokens to generate instead of the configured M (an untimed settle run). */
  decodeTokens?: number;
  /** Stop early (aborted) once the run has taken this long. */
  deadlineMs?: number;
}

export interface EngineRunner {
  readonly label: string;
  /** The process doing the work (its CPU time is not counted as foreign load). */
  readonly pid: number;
  /** One generation of the configured M tokens (or as `options` say). */
  run(options?: RunOptions): Promise<RunFigures>;
  close(): Promise<void>;
}

export class BenchRunError extends Error {
  constructor(
    readonly code: "child_failed" | "bad_reply" | "compile_failed" | "not_available",
    message: string,
  ) {
    super(message);
  }
}

interface ReplyJson {
  ready?: boolean;
  error?: string;
  pp_tps?: number;
  tg_tps?: number;
  generated?: number;
  aborted?: boolean;
  seq_fnv?: number[];
}

/** Reads newline-separated JSON replies from a child's stdout. */
class LineReader {
  private readonly reader: { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> };
  private readonly decoder = new TextDecoder();
  private buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line.startsWith("{")) return line;
        continue; // stray output (a library printing on stdout) is skipped
      }
      const { value, done } = await this.reader.read();
      if (done || !value) return null;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }
}

/**
 * A child process speaking the bench line protocol: it prints {"ready":true,...} when loaded,
 * then answers each "run N D" line on stdin (N tokens, 0 = all; stop after D ms, 0 = never)
 * with one JSON line of figures; "quit" ends it.
 */
export class ChildRunner implements EngineRunner {
  private constructor(
    readonly label: string,
    private readonly proc: Subprocess<"pipe", "pipe", "pipe">,
    /** The child's {"ready":true,...} line. */
    readonly ready: Record<string, unknown>,
    private readonly lines: LineReader,
    private readonly stderrDone: Promise<void>,
    private readonly stderrTail: () => string,
  ) {}

  static async start(label: string, cmd: string[], timeoutMs: number): Promise<ChildRunner> {
    const proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let stderr = "";
    const stderrDone = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) stderr = (stderr + dec.decode(chunk, { stream: true })).slice(-4000);
    })();
    const lines = new LineReader(proc.stdout);
    const timer = setTimeout(() => proc.kill(), timeoutMs);
    const first = await lines.next();
    clearTimeout(timer);
    const ready = first ? (JSON.parse(first) as Record<string, unknown>) : null;
    if (ready?.ready !== true) {
      proc.kill();
      await proc.exited;
      await stderrDone;
      const why = stderr.trim().split("\n").slice(-3).join(" | ") || `exit code ${proc.exitCode}`;
      throw new BenchRunError("child_failed", `${label} did not start: ${why}`);
    }
    return new ChildRunner(label, proc, ready as Record<string, unknown>, lines, stderrDone, () => stderr);
  }

  get pid(): number {
    return this.proc.pid;
  }

  async run(options: RunOptions = {}): Promise<RunFigures> {
    this.proc.stdin.write(`run ${options.decodeTokens ?? 0} ${Math.round(options.deadlineMs ?? 0)}\n`);
    await this.proc.stdin.flush();
    const line = await this.lines.next();
    if (line === null) {
      await this.proc.exited;
      throw new BenchRunError("child_failed", `${this.label} exited (code ${this.proc.exitCode}) ${this.stderrTail().trim().slice(-300)}`);
    }
    const r = JSON.parse(line) as ReplyJson;
    if (r.error) throw new BenchRunError("bad_reply", `${this.label}: ${r.error}`);
    if (typeof r.pp_tps !== "number" || typeof r.tg_tps !== "number") throw new BenchRunError("bad_reply", `${this.label} replied ${line}`);
    return {
      ppTps: r.pp_tps,
      tgTps: r.tg_tps,
      generated: r.generated ?? 0,
      aborted: r.aborted === true,
      ...(Array.isArray(r.seq_fnv) ? { seqFnv: r.seq_fnv } : {}),
    };
  }

  async close(): Promise<void> {
    try {
      this.proc.stdin.write("quit\n");
      await this.proc.stdin.end();
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.proc.kill(), 10_000);
    await this.proc.exited;
    clearTimeout(timer);
    await this.stderrDone;
  }
}
