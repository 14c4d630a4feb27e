// readJsonBody: a declared length is read in one go, a stream of unknown length is cut at the cap; neither passes it.
import { expect, test } from "bun:test";
import { readJsonBody } from "./body.ts";
import { ApiError } from "./errors.ts";

const post = (body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  new Request("http://x/", { method: "POST", body, headers });
const stream = (parts: string[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(new TextEncoder().encode(p));
      c.close();
    },
  });

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    return e instanceof ApiError ? e.status : -1;
  }
}

test("a body with a Content-Length is parsed", async () => {
  const text = JSON.stringify({ model: "m", prompt: "héllo" });
  expect(await readJsonBody(post(text, { "content-length": String(Buffer.byteLength(text)) }), 1000)).toEqual({
    model: "m",
    prompt: "héllo",
  });
});

test("a body longer than the cap is refused even when its Content-Length claims less", async () => {
  expect(await status(readJsonBody(post(`"${"a".repeat(100)}"`, { "content-length": "10" }), 50))).toBe(413);
});

test("a stream without a length: parsed under the cap, 413 past it", async () => {
  expect(await readJsonBody(post(stream(['{"a":', "1}"])), 100)).toEqual({ a: 1 });
  expect(await status(readJsonBody(post(stream(["[", "1,".repeat(60), "1]"])), 100))).toBe(413);
});

test("empty, non-UTF-8 and non-JSON bodies are 400s", async () => {
  expect(await status(readJsonBody(post("", { "content-length": "0" }), 100))).toBe(400);
  expect(await status(readJsonBody(post(new Uint8Array([0xff, 0xfe]), { "content-length": "2" }), 100))).toBe(400);
  expect(await status(readJsonBody(post("{nope", { "content-length": "5" }), 100))).toBe(400);
});
