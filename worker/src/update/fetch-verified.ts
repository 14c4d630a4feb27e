// Release downloads that cannot run away: a byte cap while streaming, the declared size and SHA-256 checked before use.
import { renameSync, rmSync } from "node:fs";
import { UpdateRefused } from "@gogrid/protocol/release";
import { ModelTooLargeError } from "../models/errors.ts";
import { type FetchLike, transferHttp } from "../models/transfer.ts";

export type { FetchLike };

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
 * Streams `url` into `dest` through the model downloader's transfer (resumed with Range, stopped as soon as
 * more than `size` bytes arrive), then checks the size and SHA-256. On any refusal nothing is left at `dest`.
 */
export async function downloadFile(url: string, want: { size: number; sha256: string }, dest: string, src: Source): Promise<void> {
  const partialPath = `${dest}.partial`;
  let got: { bytes: number; sha256: string };
  try {
    got = await transferHttp({
      source: url,
      partialPath,
      maxSize: want.size,
      signal: src.signal ?? new AbortController().signal,
      onBytes: () => {},
      fetchImpl: src.fetchImpl,
      tls: src.tls,
      idleTimeoutMs: undefined,
    });
  } catch (e) {
    if (e instanceof ModelTooLargeError) {
      throw new UpdateRefused("too_large", `${url} sent more than the ${want.size} bytes the manifest declares: stopped`);
    }
    throw new UpdateRefused("download_failed", `download of ${url} failed: ${(e as Error).message}`);
  }
  if (got.bytes !== want.size) {
    rmSync(partialPath, { force: true });
    throw new UpdateRefused("size_mismatch", `${url} is ${got.bytes} bytes, the manifest declares ${want.size}`);
  }
  if (got.sha256 !== want.sha256) {
    rmSync(partialPath, { force: true });
    throw new UpdateRefused("hash_mismatch", `${url} has SHA-256 ${got.sha256}, the manifest declares ${want.sha256}`);
  }
  renameSync(partialPath, dest);
}

export async function sha256File(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}
