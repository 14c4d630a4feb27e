// Model download against a local HTTP server: resume after a cut, checksum refusal, size limit, sharing, progress.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Server } from "bun";
import { ModelCache } from "./cache.ts";
import { downloadModel, downloadWithRetry } from "./download.ts";
import { CacheFullError, ModelChecksumError, ModelDownloadError, ModelTooLargeError } from "./errors.ts";

const DATA = new Uint8Array(randomBytes(3 * 1024 * 1024 + 12_345));
const SHA = createHash("sha256").update(DATA).digest("hex");
const CUT = 1_000_000;

/** What the next response does; reset before each test. */
interface ServerState {
  requests: { range: string | null }[];
  /** Cut the next response's connection once the body reaches this file offset. */
  cutAt: number | undefined;
  ignoreRange: boolean;
  /** Stream the whole body chunked, without Content-Length. */
  chunked: boolean;
  /** With `chunked`: pause between 64 KiB chunks so the client sees them one by one. */
  paced: boolean;
  status: number;
  delayMs: number;
}

let state: ServerState;
let server: Server<undefined>;
let base: string;
let dir: string;

function streamBody(body: Uint8Array, cutAfter: number | undefined, paced = false): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async start(c) {
      const end = cutAfter ?? body.length;
      for (let i = 0; i < end; i += 65_536) {
        c.enqueue(body.subarray(i, Math.min(end, i + 65_536)));
        if (paced) await Bun.sleep(2);
      }
      if (cutAfter === undefined) return c.close();
      await Bun.sleep(100); // let the client take the bytes, then drop the connection
      c.error(undefined);
    },
  });
}

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const range = req.headers.get("range");
      state.requests.push({ range });
      if (state.delayMs) await Bun.sleep(state.delayMs);
      if (state.status !== 200) return new Response("no such model", { status: state.status });
      const headers: Record<string, string> = { "accept-ranges": "bytes", "content-type": "application/octet-stream" };
      let start = 0;
      const m = state.ignoreRange ? null : range?.match(/^bytes=(\d+)-$/);
      if (m) {
        start = Number(m[1]);
        if (start >= DATA.length) return new Response(null, { status: 416, headers: { "content-range": `bytes */${DATA.length}` } });
        headers["content-range"] = `bytes ${start}-${DATA.length - 1}/${DATA.length}`;
      }
      const status = m ? 206 : 200;
      const body = DATA.subarray(start);
      if (state.cutAt !== undefined) {
        const cut = state.cutAt - start;
        state.cutAt = undefined;
        return new Response(streamBody(body, cut), { status, headers });
      }
      if (state.chunked) return new Response(streamBody(body, undefined, state.paced), { status, headers });
      return new Response(body, { status, headers });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

beforeEach(() => {
  state = { requests: [], cutAt: undefined, ignoreRange: false, chunked: false, paced: false, status: 200, delayMs: 0 };
  dir = mkdtempSync(join(tmpdir(), "gogrid-dl-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const url = () => `${base}/models/tiny.gguf`;
const partialPath = () => join(dir, `${SHA}.gguf.partial`);
const finalPath = () => join(dir, `${SHA}.gguf`);
const sha256Of = async (path: string) =>
  createHash("sha256")
    .update(await Bun.file(path).bytes())
    .digest("hex");

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the download to fail");
}

describe("downloadModel over HTTP", () => {
  test("a download cut mid-stream keeps its partial and the next one resumes with Range", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.cutAt = CUT;
    const err = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length, cache }));
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err).toMatchObject({ code: "download_interrupted", retryable: true });
    // the server wrote CUT bytes before dropping the connection (a loaded machine may lose the tail)
    const kept = statSync(partialPath()).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(CUT);
    expect(cache.has(SHA)).toBe(false);

    const path = await downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length, cache });
    expect(state.requests.map((r) => r.range)).toEqual([null, `bytes=${kept}-`]);
    expect(path).toBe(finalPath());
    expect(await sha256Of(path)).toBe(SHA);
    expect(existsSync(partialPath())).toBe(false);
    expect(cache.ids()).toEqual(["tiny"]);
    expect(cache.get(SHA)).toBe(path);
  });

  test("downloadWithRetry resumes after a cut on its own", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.cutAt = CUT;
    const retries: string[] = [];
    const seen: number[] = [];
    const path = await downloadWithRetry(
      { url: url(), sha256: SHA, id: "tiny", cache, onProgress: (r) => seen.push(r) },
      { attempts: 3, backoffMs: 1, onRetry: (e, attempt) => retries.push(`${attempt}:${e.code}`) },
    );
    expect(await sha256Of(path)).toBe(SHA);
    expect(retries).toEqual(["1:download_interrupted"]);
    expect(state.requests.map((r) => r.range)).toEqual([null, expect.stringMatching(/^bytes=[1-9][0-9]*-$/)]);
    expect(seen.every((r, i) => i === 0 || r > seen[i - 1]!)).toBe(true);
  });

  test("a server that ignores Range (200) makes the download start over", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    writeFileSync(partialPath(), DATA.subarray(0, CUT));
    state.ignoreRange = true;
    const path = await downloadModel({ url: url(), sha256: SHA, id: "tiny", cache });
    expect(state.requests.map((r) => r.range)).toEqual([`bytes=${CUT}-`]);
    expect(await sha256Of(path)).toBe(SHA);
  });

  test("a complete partial is adopted without a transfer (size known: no request; unknown: a 416)", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    writeFileSync(partialPath(), DATA);
    expect(await downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length, cache })).toBe(finalPath());
    expect(state.requests).toEqual([]);

    // a crash between the rename and the index write: the orphan becomes a partial, then is adopted
    rmSync(join(dir, "index.json"));
    const reopened = new ModelCache(dir, { maxBytes: 64 << 20 });
    expect(reopened.openReport.orphansToPartial).toEqual([SHA]);
    expect(await downloadModel({ url: url(), sha256: SHA, id: "tiny", cache: reopened })).toBe(finalPath());
    expect(state.requests.map((r) => r.range)).toEqual([`bytes=${DATA.length}-`]);
    expect(reopened.has(SHA)).toBe(true);
  });

  test("a checksum mismatch is refused and leaves no file", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    const wrong = "0".repeat(64);
    const err = await failure(downloadModel({ url: url(), sha256: wrong, id: "tiny", cache }));
    expect(err).toBeInstanceOf(ModelChecksumError);
    expect(err).toMatchObject({ code: "model_checksum_mismatch", expected: wrong, actual: SHA, retryable: false });
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(SHA);
    expect(readdirSync(dir).filter((f) => f.endsWith(".gguf") || f.endsWith(".partial"))).toEqual([]);
    expect(cache.has(wrong)).toBe(false);
  });

  test("a corrupt partial resumed into a mismatch is discarded too", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    writeFileSync(partialPath(), new Uint8Array(CUT)); // zeros, not the file's first bytes
    const err = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", cache }));
    expect(err).toMatchObject({ code: "model_checksum_mismatch" });
    expect(existsSync(partialPath())).toBe(false);
    expect(existsSync(finalPath())).toBe(false);
  });

  test("a download larger than the registry's size is refused, announced or streamed", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    const announced = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length - 1, cache }));
    expect(announced).toBeInstanceOf(ModelTooLargeError);
    expect(announced).toMatchObject({ code: "model_too_large", limitBytes: DATA.length - 1 });

    state.chunked = true; // no Content-Length: stopped once past the limit
    const streamed = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", size: CUT, cache }));
    expect(streamed).toMatchObject({ code: "model_too_large", limitBytes: CUT });
    expect((streamed as ModelTooLargeError).receivedBytes).toBeGreaterThan(CUT);
    expect(existsSync(partialPath())).toBe(false);
    expect(existsSync(finalPath())).toBe(false);
  });

  test("HTTP errors carry their status; 5xx are retryable, 4xx not", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.status = 404;
    const notFound = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", cache }));
    expect(notFound).toBeInstanceOf(ModelDownloadError);
    expect(notFound).toMatchObject({ code: "download_failed", status: 404, retryable: false });
    expect(notFound.message).toContain("404");

    state.status = 503;
    const retries: number[] = [];
    const busy = await failure(
      downloadWithRetry({ url: url(), sha256: SHA, id: "tiny", cache }, { attempts: 2, backoffMs: 1, onRetry: (_e, n) => retries.push(n) }),
    );
    expect(busy).toMatchObject({ code: "download_failed", status: 503, retryable: true });
    expect(retries).toEqual([1]);
  });

  test("concurrent downloads of one sha256 share a single request", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.delayMs = 100;
    const paths = await Promise.all([1, 2, 3].map(() => downloadModel({ url: url(), sha256: SHA, id: "tiny", cache })));
    expect(new Set(paths)).toEqual(new Set([finalPath()]));
    expect(state.requests).toHaveLength(1);
    // cached now: no request at all
    expect(await downloadModel({ url: url(), sha256: SHA, id: "tiny", cache })).toBe(finalPath());
    expect(state.requests).toHaveLength(1);
  });

  test("progress is throttled, strictly increasing and ends at the total", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.chunked = true;
    state.paced = true;
    const calls: [number, number | undefined][] = [];
    await downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length, cache, onProgress: (r, t) => calls.push([r, t]) });
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.length).toBeLessThanOrEqual(102); // at most every 1% (or 250 ms), plus the first and last
    for (let i = 1; i < calls.length; i++) expect(calls[i]![0]).toBeGreaterThan(calls[i - 1]![0]);
    expect(calls.every(([, t]) => t === DATA.length)).toBe(true);
    expect(calls.at(-1)).toEqual([DATA.length, DATA.length]);
  });

  test("a caller's abort stops the transfer once nobody waits for it; the partial stays", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.cutAt = CUT; // the stream stalls at CUT for 100 ms before it is cut
    const ac = new AbortController();
    const p = downloadModel({ url: url(), sha256: SHA, id: "tiny", cache, signal: ac.signal });
    await Bun.sleep(50);
    ac.abort();
    expect(await failure(p)).toMatchObject({ code: "download_aborted" });
    await Bun.sleep(150);
    expect(existsSync(finalPath())).toBe(false);
    expect(existsSync(partialPath())).toBe(true);
  });

  test("one caller's abort does not stop a transfer that another caller still waits for", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.delayMs = 100;
    const ac = new AbortController();
    const leaving = downloadModel({ url: url(), sha256: SHA, id: "tiny", cache, signal: ac.signal });
    const staying = downloadModel({ url: url(), sha256: SHA, id: "tiny", cache });
    await Bun.sleep(20);
    ac.abort();
    expect(await failure(leaving)).toMatchObject({ code: "download_aborted" });
    expect(await staying).toBe(finalPath());
    expect(state.requests).toHaveLength(1);
  });

  test("a server that does not answer within idleTimeoutMs fails retryably", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.delayMs = 200;
    const err = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", cache, idleTimeoutMs: 30 }));
    expect(err).toMatchObject({ code: "download_failed", retryable: true, status: undefined });
    expect(err.message).toContain("no answer within 30 ms");
    await Bun.sleep(200); // let the server's delayed handler finish
  });

  test("a stream that stalls longer than idleTimeoutMs counts as cut", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    state.cutAt = CUT; // stalls 100 ms at CUT
    const err = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", cache, idleTimeoutMs: 30 }));
    expect(err).toMatchObject({ code: "download_interrupted", retryable: true });
    expect(err.message).toContain("no data for 30 ms");
    expect(existsSync(partialPath())).toBe(true);
  });

  test("a model bigger than the cache is refused before any transfer", async () => {
    const cache = new ModelCache(dir, { maxBytes: 1 << 20 });
    const err = await failure(downloadModel({ url: url(), sha256: SHA, id: "tiny", size: DATA.length, cache }));
    expect(err).toBeInstanceOf(CacheFullError);
    expect(state.requests).toEqual([]);
  });

  test("downloading evicts the least recently used model, never a kept one", async () => {
    const cache = new ModelCache(dir, { maxBytes: DATA.length + 1_500 }); // room for one of the two
    const old = "1".repeat(64);
    const used = "2".repeat(64);
    for (const sha of [old, used]) {
      writeFileSync(cache.pathFor(sha), new Uint8Array(1_000));
      cache.put({ sha256: sha, id: sha.slice(0, 1), size: 1_000 });
    }
    await downloadModel({ url: url(), sha256: SHA, id: "tiny", cache, keep: new Set([old]) });
    expect(cache.list().map((m) => m.sha256)).toEqual([SHA, old]);
  });
});

/** A self-signed certificate for 127.0.0.1 (openssl), or null where openssl is missing. */
function selfSigned(): { cert: string; key: string } | null {
  if (!Bun.which("openssl")) return null;
  const d = mkdtempSync(join(tmpdir(), "gogrid-tls-"));
  try {
    const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];
    args.push("-keyout", join(d, "k.pem"), "-out", join(d, "c.pem"), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1");
    if (Bun.spawnSync(["openssl", ...args], { stderr: "ignore" }).exitCode !== 0) return null;
    return { cert: readFileSync(join(d, "c.pem"), "utf8"), key: readFileSync(join(d, "k.pem"), "utf8") };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

describe("downloadModel over HTTPS", () => {
  const pair = selfSigned();
  if (pair === null)
    console.log("download.test.ts: the HTTPS test is skipped: it needs openssl to make a certificate, and openssl is missing");
  test.skipIf(pair === null)("verifies the server against the given CA, even with NODE_TLS_REJECT_UNAUTHORIZED=0", async () => {
    const { cert, key } = pair!;
    const tlsServer = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert, key }, fetch: () => new Response(DATA) });
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    try {
      const httpsUrl = `https://127.0.0.1:${tlsServer.port}/m.gguf?X-Signature=secret`;
      const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
      const refused = await failure(downloadModel({ url: httpsUrl, sha256: SHA, id: "tiny", cache }));
      expect(refused).toMatchObject({ code: "download_failed", retryable: false });
      expect(refused.message).toContain("certificate");
      expect(refused.message).not.toContain("secret"); // signed URLs' tokens stay out of messages
      expect(await downloadModel({ url: httpsUrl, sha256: SHA, id: "tiny", cache, tls: { ca: cert } })).toBe(finalPath());
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
      tlsServer.stop(true);
    }
  });
});

describe("downloadModel from a local file", () => {
  test("file:// URLs and plain paths are copied in and verified", async () => {
    const cache = new ModelCache(dir, { maxBytes: 64 << 20 });
    const src = join(mkdtempSync(join(tmpdir(), "gogrid-src-")), "model.gguf");
    writeFileSync(src, DATA);
    try {
      const path = await downloadModel({ url: pathToFileURL(src).href, sha256: SHA, id: "tiny", size: DATA.length, cache });
      expect(await sha256Of(path)).toBe(SHA);
      expect(existsSync(src)).toBe(true);

      const other = new ModelCache(join(dir, "other"), { maxBytes: 64 << 20 });
      expect(await sha256Of(await downloadModel({ url: src, sha256: SHA, id: "tiny", cache: other }))).toBe(SHA);

      const wrong = await failure(downloadModel({ url: src, sha256: "f".repeat(64), id: "x", cache }));
      expect(wrong).toMatchObject({ code: "model_checksum_mismatch" });
      expect(existsSync(cache.partialPathFor("f".repeat(64)))).toBe(false);

      const missing = await failure(downloadModel({ url: `${src}.nope`, sha256: "e".repeat(64), id: "x", cache }));
      expect(missing).toMatchObject({ code: "download_failed", retryable: false });
      expect(await failure(downloadModel({ url: "ftp://x/y", sha256: "e".repeat(64), id: "x", cache }))).toMatchObject({
        code: "invalid_model_ref",
      });
    } finally {
      rmSync(join(src, ".."), { recursive: true, force: true });
    }
  });
});
