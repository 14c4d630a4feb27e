// Reads a small JSON request body with a byte cap: refused from its Content-Length, or as soon as the stream passes the cap.
import { ApiError, badRequest } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export const tooLarge = (maxBytes: number, got: string) =>
  new ApiError(
    413,
    "invalid_request_error",
    "request_too_large",
    `the request body is ${got}; this endpoint takes at most ${maxBytes.toLocaleString("en-US")} bytes`,
    null,
    { Connection: "close" },
  );

/** The 413 for a request whose Content-Length declares more than `maxBytes`; null when it declares no more, or none. */
export function declaredTooLarge(request: Request, maxBytes: number): ApiError | null {
  const declared = request.headers.get("content-length");
  if (declared === null || !/^\d+$/.test(declared.trim()) || Number(declared) <= maxBytes) return null;
  return tooLarge(maxBytes, `${Number(declared).toLocaleString("en-US")} bytes`);
}

/**
 * The body parsed as JSON, whatever its Content-Type says. Never reads more than `maxBytes` + one
 * chunk: a larger Content-Length is refused before reading (the server reads a declared body no
 * further than its length), a longer chunked stream is cancelled.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const refused = declaredTooLarge(request, maxBytes);
  if (refused) throw refused;
  let bytes: Uint8Array;
  if (request.body === null) {
    bytes = new Uint8Array(0);
  } else if (request.headers.has("content-length") && !request.headers.has("transfer-encoding")) {
    // the length is declared and within the cap (checked above), and the server reads no more than
    // it: one read, without a stream reader's per-chunk promises (most of a small body's cost)
    bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw overCap(maxBytes);
  } else {
    bytes = await readCapped(request.body, maxBytes);
  }
  const total = bytes.byteLength;
  if (total === 0) throw badRequest("the request body is empty: send a JSON object", null, "invalid_json");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("the request body is not UTF-8 text: send a JSON object", null, "invalid_json");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("the request body is not valid JSON: send a JSON object", null, "invalid_json");
  }
}

/** The 413 for a body found longer than the cap while reading it. */
const overCap = (maxBytes: number) => tooLarge(maxBytes, `over ${maxBytes.toLocaleString("en-US")} bytes`);

/** A body of unknown length (chunked), cancelled as soon as it passes `maxBytes`. */
async function readCapped(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw overCap(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}
