// fast-check arbitraries for fuzzing the decoders: garbage, near-misses of real frames, and hostile JSON shapes.
import fc from "fast-check";
import { fixtures, variantFixtures } from "../fixtures.ts";
import { COORDINATOR_MESSAGE_TYPES, MESSAGE_TYPES, WORKER_MESSAGE_TYPES } from "../registry.ts";
import { messageArbitrary, mutatedFrameArbitrary } from "./arbitraries.ts";

/** One fuzz input: a frame as Bun hands it over, and the size limit to decode it with (undefined: the default). */
export interface HostileFrame {
  readonly frame: string | Uint8Array | ArrayBuffer;
  readonly maxFrameBytes: number | undefined;
  /** Which generator made it, for the per-kind counts. */
  readonly kind: string;
}

const VALID: readonly object[] = [...Object.values(fixtures), ...Object.values(variantFixtures)];

/** Values that break naive code: prototype keys, extreme numbers, lone surrogates, control characters. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "\u0000",
    "\ud800",
    "\udfff",
    "\u202e",
    "\ufeff",
    "",
    " ",
    "null",
    "NaN",
    "-0",
    "1e309",
    1e308,
    -1e308,
    5e-324,
    2 ** 53,
    -(2 ** 53),
    2 ** 63,
    -1,
    0,
    -0,
    true,
    false,
    null,
  ),
  fc.constant({ polluted: true, type: "hello" }),
  fc.string({ unit: "binary", minLength: 1000, maxLength: 3000 }),
  fc.array(fc.constant("x"), { maxLength: 600 }),
);

/** Raw JSON text that JSON.stringify cannot produce from a value (prototype keys, duplicate keys). */
function withRawKey(valid: object, key: string, raw: string): string {
  const text = JSON.stringify(valid);
  return `{${JSON.stringify(key)}:${raw},${text.slice(1)}`;
}

const baseMessage = fc.constantFrom(...VALID);

/** Frames that are valid but for one hostile field somewhere in them. */
const nastyField = fc.tuple(baseMessage, fc.nat(), nastyValue).map(([m, n, v]) => {
  const copy = structuredClone(m) as Record<string, unknown>;
  const keys = Object.keys(copy).filter((k) => k !== "type");
  const key = keys.length > 0 ? (keys[n % keys.length] as string) : "extra";
  copy[key] = v;
  return JSON.stringify(copy) ?? "";
});

const rawKeys = fc
  .tuple(
    baseMessage,
    fc.constantFrom("__proto__", "constructor", "prototype", "type", "id"),
    fc.oneof(
      fc.constantFrom('{"polluted":true}', "null", '"heartbeat"', '"error"', "[]", '{"__proto__":{"x":1}}'),
      fc.constantFrom(...MESSAGE_TYPES).map((t) => JSON.stringify(t)),
    ),
  )
  .map(([m, key, raw]) => withRawKey(m, key, raw));

/** Deeply nested arrays/objects, alone or in a field of an otherwise valid frame. */
const deep = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom("[", '{"a":'), fc.boolean(), baseMessage)
  .map(([depth, open, inField, m]) => {
    const close = open === "[" ? "]" : "}";
    const core = `${open.repeat(depth)}${open === "[" ? "" : "1"}${close.repeat(depth)}`;
    return inField ? withRawKey(m, "nested", core) : core;
  });

/** Valid JSON text wrapped in things parsers disagree on: BOMs, NULs, trailing data, comments, NaN. */
const wrapped = fc
  .tuple(
    baseMessage,
    fc.constantFrom("\ufeff", "\u0000", " ", "\n", "//", "/*x*/", "[", "", "\u2028"),
    fc.constantFrom("", "\u0000", " ", "}", ",", "garbage", "\n{}", "NaN", "]"),
  )
  .map(([m, before, after]) => `${before}${JSON.stringify(m)}${after}`);

/** A valid frame truncated or with bytes flipped, sent as bytes (so invalid UTF-8 shows up). */
const flippedBytes = fc
  .tuple(baseMessage, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }))
  .map(([m, flips]) => {
    const bytes = new TextEncoder().encode(JSON.stringify(m));
    for (const [at, value] of flips) if (bytes.length > 0) bytes[at % bytes.length] = value;
    return bytes;
  });

/** Any message type (including the other direction's) with arbitrary fields. */
const anyFields = fc
  .tuple(fc.constantFrom(...WORKER_MESSAGE_TYPES, ...COORDINATOR_MESSAGE_TYPES), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }))
  .map(([type, rest]) => JSON.stringify({ ...rest, type }));

/** Generated valid messages of every type, so the decoders also meet frames they must accept. */
const generatedValid = fc.oneof(...MESSAGE_TYPES.map((t) => messageArbitrary(t))).map((m) => JSON.stringify(m));

const asText = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 300 }).map((frame) => ({ frame, kind: "random_text" })) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ frame: JSON.stringify(v) ?? "", kind: "random_json" })) },
  { weight: 3, arbitrary: anyFields.map((frame) => ({ frame, kind: "any_fields" })) },
  { weight: 4, arbitrary: mutatedFrameArbitrary(VALID).map((frame) => ({ frame, kind: "mutated_valid" })) },
  { weight: 3, arbitrary: nastyField.map((frame) => ({ frame, kind: "nasty_field" })) },
  { weight: 2, arbitrary: rawKeys.map((frame) => ({ frame, kind: "raw_keys" })) },
  { weight: 1, arbitrary: deep.map((frame) => ({ frame, kind: "deep_nesting" })) },
  { weight: 2, arbitrary: wrapped.map((frame) => ({ frame, kind: "wrapped" })) },
  { weight: 2, arbitrary: generatedValid.map((frame) => ({ frame, kind: "generated_valid" })) },
);

const asBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((frame) => ({ frame: frame as Uint8Array | ArrayBuffer, kind: "random_bytes" })),
  flippedBytes.map((frame) => ({ frame: frame.slice().buffer as Uint8Array | ArrayBuffer, kind: "flipped_bytes" })),
  flippedBytes.map((frame) => ({ frame: frame as Uint8Array | ArrayBuffer, kind: "flipped_bytes" })),
);

/**
 * Hostile frames for decodeWorkerMessage / decodeCoordinatorMessage. One in ten is decoded with a
 * small random size limit, so the oversize path is fuzzed without 4 MiB allocations per run.
 */
export function hostileFrameArbitrary(): fc.Arbitrary<HostileFrame> {
  const frame = fc.oneof({ weight: 5, arbitrary: asText }, { weight: 1, arbitrary: asBytes });
  const limit = fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }) });
  return fc.tuple(frame, limit).map(([f, maxFrameBytes]) => ({ ...f, maxFrameBytes }));
}
