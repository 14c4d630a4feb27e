// Model cache: verified GGUF files named by sha256 in one folder, a JSON index, LRU eviction under a size limit.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { CacheFullError, InvalidModelRefError } from "./errors.ts";

/** One cached model, as kept in `<dir>/index.json`. Times are Unix milliseconds. */
export interface CachedModel {
  readonly sha256: string;
  /** The registry's model id (several sha256s may share one id across versions). */
  readonly id: string;
  /** File size in bytes. */
  readonly size: number;
  readonly lastUsedAt: number;
  readonly addedAt: number;
}

export interface ModelCacheOptions {
  /** Size limit for all cached model files together, in bytes (partial downloads are not counted). */
  maxBytes: number;
  /** `*.partial` files untouched for longer than this are removed when the cache is opened (default one day). */
  partialMaxAgeMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** What opening the cache cleaned up, for the caller to log. */
export interface CacheOpenReport {
  /** The index could not be read (corrupt JSON, I/O error); the cache started empty and kept files as partials. */
  indexUnreadable: boolean;
  /** sha256s whose index entry was dropped because the file is gone or has the wrong size. */
  droppedEntries: string[];
  /** Stale partial downloads removed. */
  removedPartials: string[];
  /** `<sha256>.gguf` files missing from the index, turned back into partials (see the class comment). */
  orphansToPartial: string[];
  /** Entries evicted because the cache held more than `maxBytes` (the limit was lowered). */
  evicted: string[];
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const INDEX = "index.json";
const INDEX_TMP = "index.json.tmp";
const DAY_MS = 24 * 60 * 60 * 1000;

/** Lower-cases and checks a sha256 (it becomes a file name, so nothing else may pass). */
export function normalizeSha256(sha256: string): string {
  const s = sha256.toLowerCase();
  if (!SHA256_RE.test(s)) throw new InvalidModelRefError(`sha256 must be 64 hex digits, got ${JSON.stringify(sha256.slice(0, 80))}`);
  return s;
}

/**
 * Files are `<dir>/<sha256>.gguf`, downloads in progress `<dir>/<sha256>.gguf.partial`; the index is
 * rewritten atomically (tmp file, fsync, rename) on every change. One process owns a cache folder.
 *
 * On open: index entries whose file is gone (or has another size) are dropped; partials older than
 * `partialMaxAgeMs` are deleted; a `<sha256>.gguf` that the index does not list (a crash between the
 * rename and the index write, or a lost index) is NOT hashed here (too slow for GB files) but renamed
 * back to `<sha256>.gguf.partial`: the next download of that model hashes it and, when it is complete
 * and correct, adopts it without transferring a byte. Files with other names are left alone.
 */
export class ModelCache {
  readonly dir: string;
  readonly openReport: CacheOpenReport;
  #maxBytes: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, CachedModel>();

  constructor(dir: string, opts: ModelCacheOptions) {
    if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0)
      throw new RangeError(`maxBytes must be a non-negative integer, got ${opts.maxBytes}`);
    this.dir = dir;
    this.#maxBytes = opts.maxBytes;
    this.#now = opts.now ?? Date.now;
    mkdirSync(dir, { recursive: true });
    this.openReport = this.#open(opts.partialMaxAgeMs ?? DAY_MS);
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Bytes held by cached models. */
  totalBytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.size;
    return n;
  }

  /** Where a model's verified file lives (whether or not it is cached). */
  pathFor(sha256: string): string {
    return join(this.dir, `${normalizeSha256(sha256)}.gguf`);
  }

  /** Where a model's download in progress is written. */
  partialPathFor(sha256: string): string {
    return `${this.pathFor(sha256)}.partial`;
  }

  /** The cached file's path, marking the model as just used; null when not cached (or the file vanished). */
  get(sha256: string): string | null {
    const sha = normalizeSha256(sha256);
    if (!this.#present(sha)) return null;
    const e = this.#entries.get(sha)!;
    this.#entries.set(sha, { ...e, lastUsedAt: this.#now() });
    this.#save(false); // losing a use time in a crash is harmless: no fsync on every job
    return this.pathFor(sha);
  }

  /** Whether the model is cached (checks the file, does not count as a use). */
  has(sha256: string): boolean {
    return this.#present(normalizeSha256(sha256));
  }

  /** Cached models, most recently used first. */
  list(): CachedModel[] {
    return [...this.#entries.values()].sort((a, b) => b.lastUsedAt - a.lastUsedAt || b.addedAt - a.addedAt);
  }

  /** Distinct model ids in the cache, sorted (for the `register` capabilities). */
  ids(): string[] {
    return [...new Set([...this.#entries.values()].map((e) => e.id))].sort();
  }

  /**
   * Records a verified file already at `pathFor(sha256)`. Does not evict: call `evictFor` first.
   * Re-putting a cached sha256 keeps its `addedAt` and marks it used.
   */
  put(model: { sha256: string; id: string; size: number }): CachedModel {
    const sha = normalizeSha256(model.sha256);
    const size = fileSize(this.pathFor(sha));
    if (size !== model.size) throw new InvalidModelRefError(`${this.pathFor(sha)} has ${size ?? "no"} bytes, expected ${model.size}`);
    const now = this.#now();
    const entry: CachedModel = { sha256: sha, id: model.id, size, lastUsedAt: now, addedAt: this.#entries.get(sha)?.addedAt ?? now };
    this.#entries.set(sha, entry);
    this.#save();
    return entry;
  }

  /** Deletes a model's file and entry; false when it was not cached or the file could not be deleted (in use). */
  remove(sha256: string): boolean {
    const sha = normalizeSha256(sha256);
    if (!this.#entries.has(sha)) return false;
    if (!this.#unlink(this.pathFor(sha))) return false;
    this.#entries.delete(sha);
    this.#save();
    return true;
  }

  /**
   * Evicts least-recently-used models (never a sha256 in `keep`, e.g. models loaded or being used)
   * until `bytesNeeded` more fit under `maxBytes`. Returns the evicted sha256s. Throws
   * `CacheFullError` when it cannot make room (evicting nothing, unless a victim's file could not be
   * deleted: the OS refuses while it is open on Windows; such a model then counts as kept).
   */
  evictFor(bytesNeeded: number, keep: ReadonlySet<string> = new Set()): string[] {
    if (bytesNeeded > this.#maxBytes) throw new CacheFullError(bytesNeeded, this.#maxBytes, 0);
    const plan = this.#plan(bytesNeeded, keep);
    if (!plan.fits) throw new CacheFullError(bytesNeeded, this.#maxBytes, plan.pinned);
    const evicted = this.#evict(plan.victims);
    // a victim the OS would not delete stays, like a kept model
    if (this.totalBytes() + bytesNeeded > this.#maxBytes) throw new CacheFullError(bytesNeeded, this.#maxBytes, this.totalBytes());
    return evicted;
  }

  /** Changes the limit and evicts (best effort, sparing `keep`) down to it. Returns the evicted sha256s. */
  setMaxBytes(maxBytes: number, keep: ReadonlySet<string> = new Set()): string[] {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.#maxBytes = maxBytes;
    return this.#evict(this.#plan(0, keep).victims);
  }

  #plan(bytesNeeded: number, keep: ReadonlySet<string>): { victims: string[]; fits: boolean; pinned: number } {
    const pinned = new Set([...keep].map((sha) => sha.toLowerCase()));
    let total = this.totalBytes();
    const victims: string[] = [];
    for (const e of this.list().reverse()) {
      if (total + bytesNeeded <= this.#maxBytes) break;
      if (pinned.has(e.sha256)) continue;
      victims.push(e.sha256);
      total -= e.size;
    }
    // when it does not fit, every evictable model is a victim: what is left is pinned
    const fits = total + bytesNeeded <= this.#maxBytes;
    return { victims, fits, pinned: fits ? 0 : total };
  }

  #evict(victims: string[]): string[] {
    const evicted = victims.filter((sha) => this.#unlink(this.pathFor(sha)));
    for (const sha of evicted) this.#entries.delete(sha);
    if (evicted.length > 0) this.#save();
    return evicted;
  }

  #present(sha: string): boolean {
    const e = this.#entries.get(sha);
    if (!e) return false;
    if (fileSize(this.pathFor(sha)) === e.size) return true;
    this.#unlink(this.pathFor(sha));
    this.#entries.delete(sha);
    this.#save();
    return false;
  }

  /** Deletes a file; true when it is gone afterwards. */
  #unlink(path: string): boolean {
    try {
      rmSync(path, { force: true });
      return true;
    } catch {
      return false;
    }
  }

  #open(partialMaxAgeMs: number): CacheOpenReport {
    const report: CacheOpenReport = { indexUnreadable: false, droppedEntries: [], removedPartials: [], orphansToPartial: [], evicted: [] };
    const loaded = readIndex(join(this.dir, INDEX));
    report.indexUnreadable = loaded === null;
    for (const e of loaded ?? []) {
      if (fileSize(this.pathFor(e.sha256)) === e.size) this.#entries.set(e.sha256, e);
      else {
        this.#unlink(this.pathFor(e.sha256));
        report.droppedEntries.push(e.sha256);
      }
    }
    const now = this.#now();
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      const sha = name.slice(0, 64);
      if (name === INDEX_TMP) this.#unlink(path);
      else if (SHA256_RE.test(sha) && name === `${sha}.gguf.partial`) {
        const mtime = fileMtime(path);
        if (mtime !== null && now - mtime > partialMaxAgeMs && this.#unlink(path)) report.removedPartials.push(sha);
      } else if (SHA256_RE.test(sha) && name === `${sha}.gguf` && !this.#entries.has(sha)) {
        try {
          renameSync(path, `${path}.partial`);
          utimesSync(`${path}.partial`, new Date(now), new Date(now));
          report.orphansToPartial.push(sha);
        } catch {}
      }
    }
    report.evicted = this.#evict(this.#plan(0, new Set()).victims);
    if (report.droppedEntries.length > 0 || loaded === null) this.#save();
    return report;
  }

  #save(durable = true): void {
    const tmp = join(this.dir, INDEX_TMP);
    const body = `${JSON.stringify({ version: 1, models: [...this.#entries.values()] }, null, 1)}\n`;
    const fd = openSync(tmp, "w", 0o644);
    try {
      writeSync(fd, body);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, INDEX));
  }
}

/** Entries from an index file: [] when there is none yet, null when it cannot be read as one. */
function readIndex(path: string): CachedModel[] | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? [] : null;
  }
  try {
    const doc: unknown = JSON.parse(text);
    const models = typeof doc === "object" && doc !== null && "models" in doc ? doc.models : undefined;
    if (!Array.isArray(models)) return null;
    return models.filter(isEntry).map((m) => ({ sha256: m.sha256, id: m.id, size: m.size, lastUsedAt: m.lastUsedAt, addedAt: m.addedAt }));
  } catch {
    return null;
  }
}

function isEntry(m: unknown): m is CachedModel {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    typeof r.sha256 === "string" &&
    SHA256_RE.test(r.sha256) &&
    typeof r.id === "string" &&
    Number.isSafeInteger(r.size) &&
    Number.isFinite(r.lastUsedAt) &&
    Number.isFinite(r.addedAt)
  );
}

function fileSize(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

function fileMtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}
