// Property tests: decode never throws, mutated frames decode or fail cleanly, encode∘decode = id.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeCoordinatorMessage, decodeMessage, decodeWorkerMessage, encode, validateMessage } from "./codec.ts";
import { PROTOCOL_ERROR_CODES, ProtocolError } from "./errors.ts";
import { fixtures, variantFixtures } from "./fixtures.ts";
import { COORDINATOR_MESSAGE_TYPES, type Direction, type MessageType, WORKER_MESSAGE_TYPES } from "./registry.ts";
import { messageArbitrary, mutatedFrameArbitrary } from "./testing/arbitraries.ts";

const RUNS = 300;

/** Decodes with both decoders; asserts neither throws and each result is well-formed. */
function decodeBoth(frame: string | Uint8Array | ArrayBuffer): void {
  for (const decode of [decodeWorkerMessage, decodeCoordinatorMessage]) {
    const result = decode(frame);
    if (result.ok) {
      expect(validateMessage(result.message)).toBeUndefined();
    } else {
      expect(result.error).toBeInstanceOf(ProtocolError);
      expect(PROTOCOL_ERROR_CODES).toContain(result.error.code);
      expect(result.error.message.length).toBeGreaterThan(0);
    }
  }
}

describe("decode never throws", () => {
  test("arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => decodeBoth(s)),
      { numRuns: RUNS },
    );
  });

  test("arbitrary bytes, as Uint8Array and ArrayBuffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeBoth(bytes);
        decodeBoth(bytes.slice().buffer);
      }),
      { numRuns: RUNS },
    );
  });

  test("arbitrary JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => decodeBoth(JSON.stringify(value) ?? "")),
      { numRuns: RUNS },
    );
  });

  test("arbitrary objects with a real message type", () => {
    const types = [...WORKER_MESSAGE_TYPES, ...COORDINATOR_MESSAGE_TYPES];
    const arbitrary = fc.tuple(fc.constantFrom(...types), fc.dictionary(fc.string(), fc.jsonValue()));
    fc.assert(
      fc.property(arbitrary, ([type, rest]) => decodeBoth(JSON.stringify({ ...rest, type }))),
      { numRuns: RUNS },
    );
  });
});

describe("mutated valid frames", () => {
  const valid = [...Object.values(fixtures), ...Object.values(variantFixtures)];

  test("decode to a valid message equal to the frame's JSON, or to a ProtocolError", () => {
    fc.assert(
      fc.property(mutatedFrameArbitrary(valid), (frame) => {
        decodeBoth(frame);
        for (const direction of ["worker_to_coordinator", "coordinator_to_worker"] as const) {
          const result = decodeMessage(direction, frame);
          if (result.ok) expect(result.message).toEqual(JSON.parse(frame));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("the same, sent as bytes", () => {
    fc.assert(
      fc.property(mutatedFrameArbitrary(valid), (frame) => decodeBoth(new TextEncoder().encode(frame))),
      { numRuns: RUNS },
    );
  });
});

describe("encode then decode is the identity for generated valid messages", () => {
  const cases: [Direction, readonly MessageType[]][] = [
    ["worker_to_coordinator", WORKER_MESSAGE_TYPES],
    ["coordinator_to_worker", COORDINATOR_MESSAGE_TYPES],
  ];
  for (const [direction, types] of cases) {
    for (const type of types) {
      test(`${type} (${direction})`, () => {
        fc.assert(
          fc.property(messageArbitrary(type), (message) => {
            const frame = encode(message);
            const result = decodeMessage(direction, frame);
            if (!result.ok) throw result.error;
            expect(result.message).toEqual(message);
            expect(encode(result.message)).toBe(frame);
          }),
          { numRuns: 100 },
        );
      });
    }
  }
});
