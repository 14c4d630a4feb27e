// The worker's log: levels, stderr, and a file rotated at max_log_size_mb (3 old files kept).
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const KEEP = 3;

export class Logger {
  private size = 0;

  constructor(
    private level: Level,
    private readonly file: string | null,
    private readonly maxBytes: number,
    private readonly toStderr = true,
  ) {
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      this.size = existsSync(file) ? statSync(file).size : 0;
    }
  }

  setLevel(level: Level): void {
    this.level = level;
  }

  readonly log = (level: Level, message: string): void => {
    if (ORDER[level] < ORDER[this.level]) return;
    const line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}\n`;
    if (this.toStderr) process.stderr.write(line);
    if (!this.file) return;
    if (this.size + line.length > this.maxBytes) this.rotate();
    appendFileSync(this.file, line, { mode: 0o600 });
    this.size += Buffer.byteLength(line);
  };

  private rotate(): void {
    const f = this.file as string;
    rmSync(`${f}.${KEEP}`, { force: true });
    for (let i = KEEP - 1; i >= 1; i--) if (existsSync(`${f}.${i}`)) renameSync(`${f}.${i}`, `${f}.${i + 1}`);
    if (existsSync(f)) renameSync(f, `${f}.1`);
    this.size = 0;
  }

  get path(): string | null {
    return this.file;
  }
}
