// Downloads that cannot run away: a byte cap while streaming, the declared size and SHA-256 checked before use.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { UpdateRefused } from "@gogrid/protocol/release";

export type FetchLike = (url: string, init: RequestInit & { tls?: BunFetchRequestInitTLS }) => Promise<Response>;

export interface Source {
  fetchImpl: FetchLike;
  /** TLS for the coordinator's worker port (client certificate, its CA); certificates are always verified. */
  tls: BunFetchRequestInitTLS | undefined;
  signal?: AbortSignal;
}

async function get(url: string, src: Source): Promise<Response> {
  let res: Response;
  try {
    res = await src.fetchImpl(url, {
      redirect: "follow",
      ...(src.signal ? { signal: src.signal } : {}),
      tls: { ...src.tls, rejectUnauthorized: true },
    });
  } catch (e) {
    throw new UpdateRefused("download_failed", `could not fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new UpdateRefused("download_failed", `${url} answered HTTP ${res.status}`);
  return res;
}

/** A small JSON document (manifest, key set), read up to `maxBytes` and no further. */
export async function fetchDocument(url: string, src: Source, maxBytes = 1 << 20): Promise<string> {
  const res = await get(url, src);
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
    n += chunk.byteLength;
    if (n > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw new UpdateRefused("too_large", `${url} is over ${maxBytes} bytes: refused`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Streams `url` into `dest` (via dest.partial): stops as soon as more than `size` bytes arrive, then checks the
 * size and SHA-256. On any failure nothing is left at `dest`.
 */
export async function downloadFile(url: string, want: { size: number; sha256: string }, dest: string, src: Source): Promise<void> {
  const partial = `${dest}.partial`;
  const res = await get(url, src);
  const hash = new Bun.CryptoHasher("sha256");
  const fd = openSync(partial, "w", 0o600);
  let n = 0;
  try {
    for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
      n += chunk.byteLength;
      if (n > want.size) {
        await res.body?.cancel().catch(() => {});
        throw new UpdateRefused("too_large", `${url} sent more than the ${want.size} bytes the manifest declares: stopped`);
      }
      hash.update(chunk);
      writeSync(fd, chunk);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(partial, { force: true });
    if (e instanceof UpdateRefused) throw e;
    throw new UpdateRefused("download_failed", `download of ${url} failed: ${(e as Error).message}`);
  }
  closeSync(fd);
  if (n !== want.size) {
    rmSync(partial, { force: true });
    throw new UpdateRefused("size_mismatch", `${url} is ${n} bytes, the manifest declares ${want.size}`);
  }
  const got = hash.digest("hex");
  if (got !== want.sha256) {
    rmSync(partial, { force: true });
    throw new UpdateRefused("hash_mismatch", `${url} has SHA-256 ${got}, the manifest declares ${want.sha256}`);
  }
  renameSync(partial, dest);
}

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}
