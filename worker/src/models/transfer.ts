// Byte transfer into `<sha256>.gguf.partial`: HTTP(S) resumed with Range, or a local file copy; hashed as it goes.
import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { ModelDownloadError, ModelTooLargeError } from "./errors.ts";

/** The `fetch` the downloader calls (Bun's by default); tests and the daemon may wrap it. */
export type FetchLike = (url: string, init: BunFetchRequestInit) => Promise<Response>;

export interface TransferArgs {
  /** http(s) URL, or a local path for `copyLocal`. */
  source: string;
  partialPath: string;
  /** The registry's size: more bytes than this are refused. */
  maxSize: number | undefined;
  signal: AbortSignal;
  onBytes: (received: number, total: number | undefined) => void;
}

export interface HttpTransferArgs extends TransferArgs {
  fetchImpl: FetchLike;
  tls: BunFetchRequestInitTLS | undefined;
  /** A stream that delivers nothing for this long counts as cut (default 60 s). */
  idleTimeoutMs: number | undefined;
}

/** The part of a stream reader the transfer uses (web, Bun and file streams all fit). */
interface ChunkReader {
  read(): Promise<{ done: true; value?: Uint8Array } | { done: false; value: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** The partial file's full length and sha256 once all bytes are in. */
export interface TransferResult {
  bytes: number;
  sha256: string;
}

/**
 * Fetches `source` into the partial file. An existing partial is hashed (streamed) and resumed with
 * `Range: bytes=<n>-`; a 200 answer restarts from 0, a 206 must start at n, a 416 whose length equals
 * the partial means the partial is already complete. A cut leaves the partial for the next attempt.
 */
export async function transferHttp(a: HttpTransferArgs): Promise<TransferResult> {
  let offset = (await sizeOf(a.partialPath)) ?? 0;
  if (a.maxSize !== undefined && offset > a.maxSize) offset = await restart(a.partialPath);
  let hasher = new Bun.CryptoHasher("sha256");
  if (offset > 0) await hashPrefix(a.partialPath, offset, hasher, a.signal);
  if (offset > 0 && offset === a.maxSize) return { bytes: offset, sha256: hasher.digest("hex") };

  let res = await request(a, offset);
  if (offset > 0) {
    const range = res.status === 206 ? parseContentRange(res.headers.get("content-range")) : undefined;
    const satisfied = res.status === 416 ? parseUnsatisfiedLength(res.headers.get("content-range")) : undefined;
    if (satisfied === offset) {
      await res.body?.cancel().catch(() => {});
      return { bytes: offset, sha256: hasher.digest("hex") };
    }
    if (res.status === 200 || (range && range.start !== offset) || res.status === 416 || (res.status === 206 && !range)) {
      // the server ignored or botched the Range: start over (with this body when it is a whole-file 200)
      offset = await restart(a.partialPath);
      hasher = new Bun.CryptoHasher("sha256");
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        res = await request(a, 0);
      }
    }
  }
  if (!res.ok || (offset === 0 && res.status === 206)) {
    await res.body?.cancel().catch(() => {});
    const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
    throw new ModelDownloadError("download_failed", a.source, `failed: HTTP ${res.status} ${res.statusText}`.trimEnd(), {
      status: res.status,
      retryable,
    });
  }
  const total = announcedTotal(res, offset);
  if (a.maxSize !== undefined && total !== undefined && total > a.maxSize) {
    await res.body?.cancel().catch(() => {});
    await rm(a.partialPath, { force: true });
    throw new ModelTooLargeError(a.source, a.maxSize, total);
  }
  // progress shows the registry's size when the response does not announce one
  return await writeBody({ ...a, onBytes: (n, t) => a.onBytes(n, t ?? a.maxSize) }, res, offset, total, hasher);
}

/** Copies a local file into the partial, hashing it; no resume (a local copy is fast). */
export async function copyLocal(a: TransferArgs): Promise<TransferResult> {
  const size = await sizeOf(a.source);
  if (size === undefined) {
    throw new ModelDownloadError("download_failed", a.source, "failed: no such file. Check the model registry's path.", {
      retryable: false,
    });
  }
  if (a.maxSize !== undefined && size > a.maxSize) throw new ModelTooLargeError(a.source, a.maxSize, size);
  await restart(a.partialPath);
  const hasher = new Bun.CryptoHasher("sha256");
  const reader: ChunkReader = Bun.file(a.source).stream().getReader();
  return await pump(a, reader, await openPartial(a, "w"), 0, size, hasher, () => {});
}

async function request(a: HttpTransferArgs, offset: number): Promise<Response> {
  // identity encoding: a Range counts bytes of the file, not of a gzip stream
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (offset > 0) headers.range = `bytes=${offset}-`;
  // certificates are always verified (NODE_TLS_REJECT_UNAUTHORIZED is not honoured): pass `tls.ca` for a private CA
  const tls: BunFetchRequestInitTLS = { ...a.tls, rejectUnauthorized: true };
  // a server that never answers counts as a stall too
  const idleMs = a.idleTimeoutMs ?? 60_000;
  const noAnswer = new AbortController();
  const timer = setTimeout(() => noAnswer.abort(), idleMs);
  const signal = AbortSignal.any([a.signal, noAnswer.signal]);
  try {
    return await a.fetchImpl(a.source, { headers, signal, redirect: "follow", tls });
  } catch (e) {
    if (noAnswer.signal.aborted && !a.signal.aborted) {
      throw new ModelDownloadError("download_failed", a.source, `failed: no answer within ${idleMs} ms`, { retryable: true, cause: e });
    }
    if (isCertificateError(e) && !a.signal.aborted) {
      throw new ModelDownloadError(
        "download_failed",
        a.source,
        `failed: TLS certificate refused (${(e as Error).message}). Check the CA given to the worker.`,
        {
          retryable: false,
          cause: e,
        },
      );
    }
    throw streamError(a, e, "failed: could not connect");
  } finally {
    clearTimeout(timer);
  }
}

async function writeBody(a: HttpTransferArgs, res: Response, offset: number, total: number | undefined, hasher: Bun.CryptoHasher) {
  const fh = await openPartial(a, offset > 0 ? "a" : "w");
  if (!res.body) return await pump(a, emptyReader(), fh, offset, total, hasher, () => {});
  const reader: ChunkReader = res.body.getReader();
  // a stream that stalls is cut: cancelling the reader ends the pending read, `stalled` says why
  const idleMs = a.idleTimeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      reader.cancel().catch(() => {});
    }, idleMs);
  };
  arm();
  try {
    const r = await pump(a, reader, fh, offset, total, hasher, arm);
    if (stalled) throw stallError(a, idleMs);
    return r;
  } catch (e) {
    throw stalled ? stallError(a, idleMs) : e;
  } finally {
    clearTimeout(timer);
  }
}

async function pump(
  a: TransferArgs,
  reader: ChunkReader,
  fh: FileHandle,
  offset: number,
  total: number | undefined,
  hasher: Bun.CryptoHasher,
  onChunk: () => void,
): Promise<TransferResult> {
  let received = offset;
  let tooLarge = false;
  try {
    a.onBytes(received, total);
    for (;;) {
      let chunk: Awaited<ReturnType<ChunkReader["read"]>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw streamError(a, e, `interrupted after ${received} bytes; the partial file is kept for resuming`);
      }
      if (chunk.done) break;
      onChunk();
      received += chunk.value.byteLength;
      if (a.maxSize !== undefined && received > a.maxSize) {
        tooLarge = true;
        throw new ModelTooLargeError(a.source, a.maxSize, received);
      }
      await writeAll(fh, chunk.value, a.partialPath);
      hasher.update(chunk.value);
      a.onBytes(received, total);
      if (a.signal.aborted) throw streamError(a, a.signal.reason, "aborted");
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  } finally {
    await fh.close().catch(() => {});
    if (tooLarge) await rm(a.partialPath, { force: true });
  }
  if (total !== undefined && received < total) {
    throw new ModelDownloadError("download_interrupted", a.source, `ended after ${received} of ${total} bytes; the partial file is kept`, {
      retryable: true,
    });
  }
  return { bytes: received, sha256: hasher.digest("hex") };
}

function streamError(a: TransferArgs, cause: unknown, detail: string): ModelDownloadError {
  if (a.signal.aborted) return new ModelDownloadError("download_aborted", a.source, "was aborted", { retryable: false, cause });
  const why = cause instanceof Error ? `: ${cause.message}` : "";
  const code = detail.startsWith("interrupted") ? "download_interrupted" : "download_failed";
  return new ModelDownloadError(code, a.source, `${detail}${why}`, { retryable: true, cause });
}

function isCertificateError(e: unknown): boolean {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS/.test(code);
}

function stallError(a: TransferArgs, idleMs: number): ModelDownloadError {
  return new ModelDownloadError("download_interrupted", a.source, `stalled: no data for ${idleMs} ms; the partial file is kept`, {
    retryable: true,
  });
}

async function writeAll(fh: FileHandle, data: Uint8Array, path: string): Promise<void> {
  let done = 0;
  try {
    while (done < data.byteLength) done += (await fh.write(data, done)).bytesWritten;
  } catch (e) {
    throw new ModelDownloadError("download_failed", path, `failed: cannot write the file (${(e as Error).message})`, {
      retryable: false,
      cause: e,
    });
  }
}

async function openPartial(a: TransferArgs, flags: "a" | "w"): Promise<FileHandle> {
  try {
    return await open(a.partialPath, flags, 0o644);
  } catch (e) {
    throw new ModelDownloadError("download_failed", a.source, `failed: cannot open ${a.partialPath} (${(e as Error).message})`, {
      retryable: false,
      cause: e,
    });
  }
}

/** Feeds the first `n` bytes of a file to the hasher without holding them in memory. */
async function hashPrefix(path: string, n: number, hasher: Bun.CryptoHasher, signal: AbortSignal): Promise<void> {
  for await (const chunk of Bun.file(path).slice(0, n).stream()) {
    hasher.update(chunk);
    if (signal.aborted) throw new ModelDownloadError("download_aborted", path, "was aborted", { retryable: false, cause: signal.reason });
  }
}

async function restart(partialPath: string): Promise<0> {
  await rm(partialPath, { force: true });
  return 0;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** The whole file's length as the response tells it, when it does. */
function announcedTotal(res: Response, offset: number): number | undefined {
  if (res.status === 206) {
    const range = parseContentRange(res.headers.get("content-range"));
    if (range?.total !== undefined) return range.total;
  }
  const len = Number(res.headers.get("content-length") ?? Number.NaN);
  return Number.isSafeInteger(len) && len >= 0 ? offset + len : undefined;
}

/** `bytes <start>-<end>/<total|*>` */
export function parseContentRange(h: string | null): { start: number; end: number; total: number | undefined } | undefined {
  const m = h?.trim().match(/^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i);
  if (!m) return undefined;
  const [start, end] = [Number(m[1]), Number(m[2])];
  const total = m[3] === "*" ? undefined : Number(m[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

// A 416 answer's Content-Range, `bytes */<total>`: the whole length.
function parseUnsatisfiedLength(h: string | null): number | undefined {
  const m = h?.trim().match(/^bytes\s+\*\/(\d+)$/i);
  return m ? Number(m[1]) : undefined;
}

function emptyReader(): ChunkReader {
  return { read: async () => ({ done: true }), cancel: async () => {} };
}
