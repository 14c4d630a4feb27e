// Fuzz: 50,000 hostile frames through both decoders, plus the oversize and nesting limits at their edges.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeWorkerMessage, MAX_JSON_DEPTH } from "./codec.ts";
import { MAX_FRAME_BYTES } from "./limits.ts";
import { fuzzDecoders } from "./testing/fuzz-decoders.ts";

setDefaultTimeout(90_000);

/** The CI share of the security fuzz (the soak runs 1,000,000). */
const CI_FRAMES = 50_000;

describe("decoder fuzz", () => {
  test(`${CI_FRAMES.toLocaleString("en-US")} hostile frames: never a throw, every refusal well-formed and sendable`, () => {
    const r = fuzzDecoders({ runs: CI_FRAMES });
    console.log(
      `decoder fuzz: ${r.inputs} frames (${r.decodes} decodes) in ${r.seconds} s, slowest ${r.slowest_ms} ms, seed ${r.seed}; ` +
        `accepted ${r.accepted}, refused ${JSON.stringify(r.refused)}`,
    );
    expect(r.failure).toBeNull();
    expect(r.inputs).toBe(CI_FRAMES);
    // the generators reach every outcome, so a decoder that refused everything would show here
    expect(r.accepted).toBeGreaterThan(CI_FRAMES / 50);
    for (const code of ["frame_too_large", "invalid_json", "not_an_object", "unknown_type", "invalid_message"]) {
      expect(r.refused[code] ?? 0).toBeGreaterThan(0);
    }
    expect(Object.keys(r.kinds).length).toBeGreaterThanOrEqual(10);
  });
});

describe("size limit at the edge", () => {
  test("MAX_FRAME_BYTES is accepted as far as size goes; one byte more is frame_too_large and fatal", () => {
    const pad = (n: number) => `{"type":"heartbeat","x":"${"a".repeat(n - 27)}"}`;
    expect(pad(MAX_FRAME_BYTES).length).toBe(MAX_FRAME_BYTES);
    const atLimit = decodeWorkerMessage(pad(MAX_FRAME_BYTES));
    expect(atLimit.ok || atLimit.error.code).not.toBe("frame_too_large");
    const over = decodeWorkerMessage(pad(MAX_FRAME_BYTES + 1));
    expect(over.ok).toBe(false);
    if (!over.ok) {
      expect(over.error.code).toBe("frame_too_large");
      expect(over.error.fatal).toBe(true);
    }
  });

  test("the limit counts UTF-8 bytes, not characters, for text and for byte frames", () => {
    const wide = "€".repeat(Math.ceil(MAX_FRAME_BYTES / 3) + 1); // under the limit in characters, over it in bytes
    expect(wide.length).toBeLessThan(MAX_FRAME_BYTES);
    for (const frame of [wide, new TextEncoder().encode(wide)]) {
      const r = decodeWorkerMessage(frame);
      expect(r.ok ? "ok" : r.error.code).toBe("frame_too_large");
    }
  });
});

describe("nesting limit", () => {
  const nested = (depth: number) => `{"type":"heartbeat","x":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

  test(`nesting deeper than ${MAX_JSON_DEPTH} is refused before parsing, naming the limit`, () => {
    for (const frame of [nested(MAX_JSON_DEPTH + 1), "[".repeat(2_000_000)]) {
      const r = decodeWorkerMessage(frame);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe("invalid_json");
        expect(r.error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
      }
    }
  });

  test("exactly the limit is parsed (and then refused by the schema, not the depth check)", () => {
    const r = decodeWorkerMessage(nested(MAX_JSON_DEPTH));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).not.toContain("deeper than");
  });

  test("brackets inside strings, escaped quotes included, do not count", () => {
    const text = `\\"${"[{".repeat(5000)}"\\\\`;
    const frame = JSON.stringify({ type: "job_chunk", job_id: "j1", fence: "f1", seq: 0, text });
    const r = decodeWorkerMessage(frame);
    expect(r.ok ? "ok" : r.error.message).toBe("ok");
    if (r.ok && r.message.type === "job_chunk") expect(r.message.text).toBe(text);
  });
});
