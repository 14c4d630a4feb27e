// One part of `bun run soak`: a named fault, security or scale run that reports its figures and whether it passed.

/** The checker's totals (DESIGN.md: the soak's last JSON line carries at least these). */
export interface SoakTotals {
  accepted: number;
  completed: number;
  failed_visibly: number;
  lost: number;
  duplicated: number;
  double_credited: number;
}

export interface PartOptions {
  /** The short version CI runs; the full version otherwise. */
  quick: boolean;
  /** Run on a fresh Postgres database instead of SQLite where the part has a store. */
  postgres: boolean;
  /** A human progress line (stderr). */
  log: (line: string) => void;
}

export interface PartResult {
  part: string;
  pass: boolean;
  /** Present for parts that run jobs through the checker. */
  totals?: SoakTotals;
  /** Measured figures, flat, JSON-able (seconds, counts, p50_ms, rss_mb ...). */
  figures: Record<string, number | string | boolean>;
  /** One line per failed expectation; empty when pass. */
  failures: string[];
}

/** What one injected fault reports: figures merged across faults (numbers summed, *_max maxed) and failures. */
export interface FaultResult {
  figures: Record<string, number>;
  failures: string[];
}

export interface SoakPart {
  name: string;
  describe: string;
  run(opts: PartOptions): Promise<PartResult>;
}

/** Copies `obj[k]` to `into[`${prefix}_${k}`]` for each of `keys` whose value is a number, string or boolean. */
export function prefixed<T extends object>(into: PartResult["figures"], prefix: string, obj: T, keys: readonly (keyof T & string)[]): void {
  for (const k of keys) {
    const v: unknown = obj[k];
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") into[`${prefix}_${k}`] = v;
  }
}
