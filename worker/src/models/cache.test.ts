// Model cache: index persistence, LRU eviction with pinned models, clean-up on open.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelCache } from "./cache.ts";
import { CacheFullError, InvalidModelRefError } from "./errors.ts";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);

let dir: string;
let clock: number;
const now = () => ++clock;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gogrid-cache-"));
  clock = 1_000;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(maxBytes = 1_000): ModelCache {
  return new ModelCache(dir, { maxBytes, now });
}

/** Puts a file of `size` bytes into the cache as if the downloader had verified it. */
function add(cache: ModelCache, sha: string, id: string, size: number): void {
  writeFileSync(cache.pathFor(sha), new Uint8Array(size));
  cache.put({ sha256: sha, id, size });
}

describe("ModelCache", () => {
  test("put, get, has, list and ids; the index survives reopening", () => {
    const cache = open();
    add(cache, A, "tiny", 100);
    add(cache, B, "small", 200);
    add(cache, C, "tiny", 50);
    expect(cache.get(A)).toBe(join(dir, `${A}.gguf`));
    expect(cache.has(B)).toBe(true);
    expect(cache.get("d".repeat(64))).toBeNull();
    expect(cache.ids()).toEqual(["small", "tiny"]);
    expect(cache.totalBytes()).toBe(350);
    expect(cache.list().map((m) => m.sha256)).toEqual([A, C, B]);

    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    expect(index.version).toBe(1);
    expect(index.models).toHaveLength(3);
    expect(Object.keys(index.models[0]).sort()).toEqual(["addedAt", "id", "lastUsedAt", "sha256", "size"]);
    expect(existsSync(join(dir, "index.json.tmp"))).toBe(false);

    const again = open();
    expect(again.list()).toEqual(cache.list());
    expect(again.openReport).toEqual({
      indexUnreadable: false,
      droppedEntries: [],
      removedPartials: [],
      orphansToPartial: [],
      evicted: [],
    });
  });

  test("upper-case sha256s are normalised; anything else that is not 64 hex digits is refused", () => {
    const cache = open();
    add(cache, A, "m", 10);
    expect(cache.has(A.toUpperCase())).toBe(true);
    expect(() => cache.get("../../etc/passwd")).toThrow(InvalidModelRefError);
    expect(() => cache.pathFor("a".repeat(63))).toThrow(expect.objectContaining({ code: "invalid_model_ref" }));
  });

  test("get drops an entry whose file vanished or changed size", () => {
    const cache = open();
    add(cache, A, "m", 100);
    add(cache, B, "n", 100);
    rmSync(cache.pathFor(A));
    writeFileSync(cache.pathFor(B), new Uint8Array(99));
    expect(cache.get(A)).toBeNull();
    expect(cache.has(B)).toBe(false);
    expect(cache.list()).toEqual([]);
    expect(existsSync(cache.pathFor(B))).toBe(false);
  });

  test("evictFor removes the least recently used model; get counts as a use", () => {
    const cache = open(250);
    add(cache, A, "a", 100);
    add(cache, B, "b", 100);
    expect(cache.get(A)).not.toBeNull(); // B is now the least recently used
    expect(cache.evictFor(100)).toEqual([B]);
    add(cache, C, "c", 100);
    expect(cache.has(A)).toBe(true);
    expect(cache.has(B)).toBe(false);
    expect(existsSync(cache.pathFor(B))).toBe(false);
    expect(cache.totalBytes()).toBe(200);
  });

  test("evictFor never evicts a kept model", () => {
    const cache = open(250);
    add(cache, A, "a", 100);
    add(cache, B, "b", 100); // A is the least recently used, but in use
    expect(cache.evictFor(100, new Set([A]))).toEqual([B]);
    expect(cache.has(A)).toBe(true);
  });

  test("CacheFullError when one model exceeds the limit, or models in use leave no room", () => {
    const cache = open(250);
    add(cache, A, "a", 100);
    add(cache, B, "b", 100);
    const alone = (() => {
      try {
        cache.evictFor(300);
      } catch (e) {
        return e;
      }
    })();
    expect(alone).toBeInstanceOf(CacheFullError);
    expect(alone).toMatchObject({ code: "cache_full", neededBytes: 300, allowedBytes: 250 });
    expect(String((alone as Error).message)).toContain("300 bytes");

    expect(() => cache.evictFor(100, new Set([A, B]))).toThrow(
      expect.objectContaining({ name: "CacheFullError", code: "cache_full", neededBytes: 300, pinnedBytes: 200 }),
    );
    expect(cache.list()).toHaveLength(2); // nothing evicted when it could not fit anyway
  });

  test("opening removes stale partials and vanished entries, turns orphan files into partials, leaves other files", () => {
    const first = open();
    add(first, A, "a", 100);
    add(first, B, "b", 100);
    rmSync(first.pathFor(B));
    writeFileSync(join(dir, `${C}.gguf`), new Uint8Array(10)); // a file the index does not list
    const stale = join(dir, `${"e".repeat(64)}.gguf.partial`);
    const fresh = join(dir, `${"f".repeat(64)}.gguf.partial`);
    writeFileSync(stale, "x");
    writeFileSync(fresh, "y");
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(stale, twoDaysAgo, twoDaysAgo);
    writeFileSync(join(dir, "notes.txt"), "mine");

    const cache = new ModelCache(dir, { maxBytes: 1_000 });
    expect(cache.openReport).toMatchObject({ droppedEntries: [B], removedPartials: ["e".repeat(64)], orphansToPartial: [C] });
    expect(cache.list().map((m) => m.sha256)).toEqual([A]);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(join(dir, `${C}.gguf.partial`))).toBe(true);
    expect(existsSync(join(dir, "notes.txt"))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "index.json"), "utf8")).models).toHaveLength(1);
  });

  test("an unreadable index starts an empty cache and keeps the files as partials", () => {
    const first = open();
    add(first, A, "a", 100);
    writeFileSync(join(dir, "index.json"), "{ not json");
    const cache = open();
    expect(cache.openReport.indexUnreadable).toBe(true);
    expect(cache.openReport.orphansToPartial).toEqual([A]);
    expect(cache.list()).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, "index.json"), "utf8"))).toEqual({ version: 1, models: [] });
  });

  test("a lowered limit evicts least recently used models (on open and through setMaxBytes)", () => {
    const first = open(1_000);
    add(first, A, "a", 100);
    add(first, B, "b", 100);
    add(first, C, "c", 100);
    const smaller = open(250);
    expect(smaller.openReport.evicted).toEqual([A]);
    expect(smaller.setMaxBytes(100, new Set([B]))).toEqual([C]);
    expect(smaller.list().map((m) => m.sha256)).toEqual([B]);
  });

  test("put refuses a file of the wrong size", () => {
    const cache = open();
    writeFileSync(cache.pathFor(A), new Uint8Array(10));
    expect(() => cache.put({ sha256: A, id: "a", size: 11 })).toThrow(InvalidModelRefError);
    expect(cache.has(A)).toBe(false);
  });
});
