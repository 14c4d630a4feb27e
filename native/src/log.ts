// The engine's logger: llama.cpp's lines and our own go through one sink, quiet by default.

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogSink = (level: Exclude<LogLevel, "silent">, message: string) => void;

const ORDER: Record<LogLevel, number> = { debug: 1, info: 2, warn: 3, error: 4, silent: 5 };

/** ggml's numeric levels, as written by the shim. */
const GGML_LEVEL: Record<string, Exclude<LogLevel, "silent">> = { "1": "debug", "2": "info", "3": "warn", "4": "error" };

export function levelNumber(level: LogLevel): number {
  return ORDER[level];
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel): LogLevel {
  if (value && value in ORDER) return value as LogLevel;
  return fallback;
}

export const stderrSink: LogSink = (level, message) => {
  process.stderr.write(`[llama ${level}] ${message}\n`);
};

/** Splits the shim's log buffer ("<level digit><text>\x1e" records) into whole lines. */
export class NativeLogBuffer {
  private pending = "";
  private pendingLevel: Exclude<LogLevel, "silent"> = "info";
  /** The last lines seen, kept to explain failures (llama.cpp reports most errors only in its log). */
  readonly recent: string[] = [];

  push(chunk: string, sink: LogSink | null): void {
    for (const record of chunk.split("\x1e")) {
      if (!record) continue;
      const level = GGML_LEVEL[record[0] ?? ""] ?? "info";
      const text = record.slice(1);
      if (this.pending && level !== this.pendingLevel) this.flushLine(sink);
      this.pendingLevel = level;
      this.pending += text;
      let nl = this.pending.indexOf("\n");
      while (nl >= 0) {
        this.emit(this.pending.slice(0, nl), sink);
        this.pending = this.pending.slice(nl + 1);
        nl = this.pending.indexOf("\n");
      }
    }
  }

  private flushLine(sink: LogSink | null): void {
    if (this.pending) this.emit(this.pending, sink);
    this.pending = "";
  }

  private emit(line: string, sink: LogSink | null): void {
    const text = line.trimEnd();
    if (!text) return;
    this.recent.push(`${this.pendingLevel}: ${text}`);
    if (this.recent.length > 50) this.recent.shift();
    sink?.(this.pendingLevel, text);
  }

  /** Recent warning/error lines, for an error message. */
  problems(): string[] {
    return this.recent.filter((l) => l.startsWith("warn:") || l.startsWith("error:")).map((l) => l.replace(/^\w+: /, ""));
  }

  clearRecent(): void {
    this.recent.length = 0;
  }
}
