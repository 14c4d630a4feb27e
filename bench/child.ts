// A bench child process that speaks JSON lines: it prints {"ready":true,...}, answers one line per command.
import type { Subprocess } from "bun";

export type Reply = Record<string, unknown>;

export class ChildError extends Error {
  readonly code = "bench_child_failed";
}

export class JsonChild {
  private buffer = "";
  private readonly decoder = new TextDecoder();
  private readonly reader: { read(): Promise<{ done: boolean; value?: Uint8Array | undefined }> };
  private stderr = "";
  private readonly stderrDone: Promise<void>;
  ready: Reply = {};

  private constructor(
    readonly label: string,
    readonly proc: Subprocess<"pipe", "pipe", "pipe">,
  ) {
    this.reader = proc.stdout.getReader();
    this.stderrDone = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) this.stderr = (this.stderr + dec.decode(chunk, { stream: true })).slice(-4000);
    })();
  }

  /** Spawns `cmd` and waits (up to `timeoutMs`) for its ready line. */
  static async start(label: string, cmd: string[], timeoutMs = 120_000, env?: Record<string, string>): Promise<JsonChild> {
    const proc = Bun.spawn(cmd, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    const child = new JsonChild(label, proc);
    const first = await child.next(timeoutMs);
    if (first?.ready !== true) {
      proc.kill();
      await proc.exited;
      throw new ChildError(`${label} did not start: ${first?.error ?? child.tail()}`);
    }
    child.ready = first;
    return child;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The last lines the child wrote on stderr (for error messages). */
  tail(): string {
    return this.stderr.trim().split("\n").slice(-4).join(" | ") || `exit code ${this.proc.exitCode}`;
  }

  /** The next JSON line (other stdout lines are skipped); null when the child ended or `timeoutMs` passed. */
  async next(timeoutMs = 600_000): Promise<Reply | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line.startsWith("{")) return JSON.parse(line) as Reply;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) return null;
      let timer: Timer | undefined;
      const timeout = new Promise<null>((r) => {
        timer = setTimeout(() => r(null), left);
      });
      const got = await Promise.race([this.reader.read(), timeout]);
      clearTimeout(timer);
      if (got === null || got.done || !got.value) return null;
      this.buffer += this.decoder.decode(got.value, { stream: true });
    }
  }

  /**
   * Sends one command line and returns its JSON answer; throws on an error answer or a dead child.
   * Concurrent calls are queued: each answer belongs to the command sent right before it.
   */
  request(line: string, timeoutMs = 600_000): Promise<Reply> {
    const run = this.queue.then(() => this.exchange(line, timeoutMs));
    this.queue = run.catch(() => {});
    return run;
  }

  private queue: Promise<unknown> = Promise.resolve();

  private async exchange(line: string, timeoutMs: number): Promise<Reply> {
    this.proc.stdin.write(`${line}\n`);
    await this.proc.stdin.flush();
    const r = await this.next(timeoutMs);
    if (r === null) throw new ChildError(`${this.label} gave no answer to "${line.split(" ")[0]}": ${this.tail()}`);
    if (typeof r.error === "string") throw new ChildError(`${this.label}: ${r.error}`);
    return r;
  }

  /** Asks the child to quit, then kills it if it has not ended after `graceMs`. */
  async close(graceMs = 15_000): Promise<void> {
    try {
      this.proc.stdin.write("quit\n");
      await this.proc.stdin.end();
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.proc.kill(), graceMs);
    await this.proc.exited;
    clearTimeout(timer);
    await this.stderrDone;
  }
}

/** Runs a child's command loop: each stdin line is handed to `handle`, its answer printed as one JSON line. */
export async function serveCommands(handle: (cmd: string, args: string[]) => Promise<Reply | "quit">): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Bun.stdin.stream()) {
    buf += dec.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      if (!line) continue;
      const [cmd = "", ...args] = line.split(" ");
      let answer: Reply | "quit";
      try {
        answer = await handle(cmd, args);
      } catch (e) {
        answer = { error: e instanceof Error ? e.message : String(e) };
      }
      if (answer === "quit") return;
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    }
  }
}
