// Model download into the cache: one shared transfer per sha256, sha256 verification, eviction, retries.
import { rename, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type ModelCache, normalizeSha256 } from "./cache.ts";
import { CacheFullError, InvalidModelRefError, ModelChecksumError, ModelDownloadError, ModelError } from "./errors.ts";
import { type ProgressFn, type ProgressReporter, progressReporter } from "./progress.ts";
import { copyLocal, type FetchLike, type TransferResult, transferHttp } from "./transfer.ts";

export interface DownloadModelOptions {
  /** http(s) URL of the registry's file, or (dev/demo) a `file://` URL or a local path. */
  url: string;
  /** Expected SHA-256 (64 hex digits): the file is refused unless its bytes hash to it. */
  sha256: string;
  /** The registry's model id, recorded in the cache index. */
  id: string;
  /** Expected size in bytes, when the registry gives it: a larger download is refused early. */
  size?: number;
  cache: ModelCache;
  /** Throttled (every `progressIntervalMs` or 1%), strictly increasing, last call `(n, n)`. */
  onProgress?: ProgressFn;
  /** Aborts this caller's wait; the shared transfer stops when every caller waiting on it aborted. */
  signal?: AbortSignal;
  fetchImpl?: FetchLike;
  /** TLS options for fetch (e.g. the coordinator's CA); `rejectUnauthorized` stays on unless set here. */
  tls?: BunFetchRequestInitTLS;
  /** sha256s that eviction must spare (models loaded or in use). */
  keep?: ReadonlySet<string>;
  /** Minimum time between progress calls (default 250 ms). */
  progressIntervalMs?: number;
  /** A transfer that delivers no bytes for this long counts as cut (default 60 000 ms). */
  idleTimeoutMs?: number;
}

export interface RetryOptions {
  /** Total tries, the first included (default 5). */
  attempts?: number;
  /** Wait before the 2nd try; doubled before each next one (default 1000 ms). */
  backoffMs?: number;
  /** Upper bound of one wait (default 60 000 ms). */
  maxBackoffMs?: number;
  /** Told about each retryable failure before waiting `delayMs`. */
  onRetry?: (error: ModelError, attempt: number, delayMs: number) => void;
}

interface Flight {
  readonly promise: Promise<string>;
  readonly controller: AbortController;
  readonly reporters: Set<ProgressReporter>;
  waiters: number;
  settled: boolean;
}

const flights = new WeakMap<ModelCache, Map<string, Flight>>();

/**
 * Returns the cached file of `sha256`, downloading it first when needed: into `<sha256>.gguf.partial`
 * (resumed when one exists), verified, then moved into the cache after evicting least-recently-used
 * models as needed. Concurrent calls for one sha256 on one cache share a single transfer.
 *
 * Throws `ModelChecksumError` (file discarded), `ModelTooLargeError` (discarded), `CacheFullError`,
 * `ModelDownloadError` (`download_failed` with `status` for HTTP errors, `download_interrupted` when
 * cut mid-stream: the partial is kept, `download_aborted`), `InvalidModelRefError`.
 */
export async function downloadModel(o: DownloadModelOptions): Promise<string> {
  const sha = normalizeSha256(o.sha256);
  if (o.signal?.aborted)
    throw new ModelDownloadError("download_aborted", o.url, "was aborted", { retryable: false, cause: o.signal.reason });
  const cached = o.cache.get(sha);
  if (cached) return cached;
  const perCache = flights.get(o.cache) ?? new Map<string, Flight>();
  flights.set(o.cache, perCache);
  let flight = perCache.get(sha);
  if (!flight) {
    const created = startFlight(o, sha);
    perCache.set(sha, created);
    created.promise.then(
      () => perCache.delete(sha),
      () => perCache.delete(sha),
    );
    flight = created;
  }
  return await join(flight, o);
}

/** `downloadModel`, tried again (resuming) after retryable failures: cuts, stalls, 5xx, refused connections. */
export async function downloadWithRetry(o: DownloadModelOptions, r: RetryOptions = {}): Promise<string> {
  const attempts = Math.max(1, r.attempts ?? 5);
  let last = -1;
  const user = o.onProgress;
  const onProgress: ProgressFn | undefined = user
    ? (received, total) => {
        if (received < last) return;
        last = received;
        user(received, total);
      }
    : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await downloadModel({ ...o, onProgress });
    } catch (e) {
      if (!(e instanceof ModelError) || !e.retryable || attempt >= attempts || o.signal?.aborted) throw e;
      const delayMs = Math.min((r.backoffMs ?? 1000) * 2 ** (attempt - 1), r.maxBackoffMs ?? 60_000);
      r.onRetry?.(e, attempt, delayMs);
      await sleep(delayMs, o.signal, o.url);
    }
  }
}

function startFlight(o: DownloadModelOptions, sha: string): Flight {
  const controller = new AbortController();
  const reporters = new Set<ProgressReporter>();
  // a throwing progress callback must not break a transfer that other callers share
  const each = (fn: (r: ProgressReporter) => void) => {
    for (const r of reporters) {
      try {
        fn(r);
      } catch {}
    }
  };
  const onBytes = (received: number, total: number | undefined) => each((r) => r.update(received, total));
  const promise = fetchIntoCache(o, sha, controller.signal, onBytes).then((r) => {
    each((rep) => rep.finish(r.bytes));
    return r.path;
  });
  const flight: Flight = { promise, controller, reporters, waiters: 0, settled: false };
  promise.then(
    () => {
      flight.settled = true;
    },
    () => {
      flight.settled = true;
    },
  );
  return flight;
}

function join(flight: Flight, o: DownloadModelOptions): Promise<string> {
  flight.waiters++;
  const reporter = o.onProgress ? progressReporter(o.onProgress, { intervalMs: o.progressIntervalMs ?? 250 }) : undefined;
  if (reporter) flight.reporters.add(reporter);
  return new Promise<string>((resolve, reject) => {
    let done = false;
    const leave = () => {
      if (done) return false;
      done = true;
      if (reporter) flight.reporters.delete(reporter);
      o.signal?.removeEventListener("abort", onAbort);
      if (--flight.waiters === 0 && !flight.settled) flight.controller.abort(o.signal?.reason);
      return true;
    };
    const onAbort = () => {
      if (leave()) reject(new ModelDownloadError("download_aborted", o.url, "was aborted", { retryable: false, cause: o.signal?.reason }));
    };
    o.signal?.addEventListener("abort", onAbort, { once: true });
    flight.promise.then(
      (path) => leave() && resolve(path),
      (e: unknown) => leave() && reject(e),
    );
  });
}

async function fetchIntoCache(
  o: DownloadModelOptions,
  sha: string,
  signal: AbortSignal,
  onBytes: (received: number, total: number | undefined) => void,
): Promise<{ path: string; bytes: number }> {
  const { cache } = o;
  if (o.size !== undefined && o.size > cache.maxBytes) throw new CacheFullError(o.size, cache.maxBytes, 0);
  const partialPath = cache.partialPathFor(sha);
  const local = localPath(o.url);
  const args = { source: local ?? o.url, partialPath, maxSize: o.size, signal, onBytes };
  const result: TransferResult = local
    ? await copyLocal(args)
    : await transferHttp({ ...args, fetchImpl: o.fetchImpl ?? fetch, tls: o.tls, idleTimeoutMs: o.idleTimeoutMs });
  if (result.sha256 !== sha) {
    await rm(partialPath, { force: true });
    throw new ModelChecksumError(o.url, sha, result.sha256, result.bytes);
  }
  try {
    cache.evictFor(result.bytes, o.keep);
  } catch (e) {
    await rm(partialPath, { force: true });
    throw e;
  }
  const path = cache.pathFor(sha);
  await rename(partialPath, path);
  cache.put({ sha256: sha, id: o.id, size: result.bytes });
  return { path, bytes: result.bytes };
}

/** The local path of a `file://` URL or plain path; undefined for http(s); throws for other schemes. */
function localPath(url: string): string | undefined {
  if (/^https?:\/\//i.test(url)) return undefined;
  if (/^file:/i.test(url)) {
    try {
      return fileURLToPath(url);
    } catch (e) {
      throw new InvalidModelRefError(`bad file URL ${url} (${(e as Error).message})`);
    }
  }
  // a scheme other than a Windows drive letter ("C:\...")
  if (/^[a-z][a-z0-9+.-]+:/i.test(url))
    throw new InvalidModelRefError(`unsupported URL scheme in ${url} (use https://, file:// or a path)`);
  if (url.length === 0) throw new InvalidModelRefError("empty model URL");
  return url;
}

function sleep(ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ModelDownloadError("download_aborted", url, "was aborted", { retryable: false, cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
