// Codec tests: every fixture round-trips, and each kind of bad frame gets its own specific error.
import { describe, expect, test } from "bun:test";
import { decodeCoordinatorMessage, decodeMessage, decodeWorkerMessage, encode, validateMessage } from "./codec.ts";
import { ProtocolError } from "./errors.ts";
import { fixtures, variantFixtures } from "./fixtures.ts";
import { MAX_FRAME_BYTES } from "./limits.ts";
import { COORDINATOR_MESSAGE_TYPES, type Direction, MESSAGE_TYPES, WORKER_MESSAGE_TYPES } from "./registry.ts";

const directions: Record<Direction, readonly string[]> = {
  worker_to_coordinator: WORKER_MESSAGE_TYPES,
  coordinator_to_worker: COORDINATOR_MESSAGE_TYPES,
};

function refused(result: ReturnType<typeof decodeWorkerMessage> | ReturnType<typeof decodeCoordinatorMessage>): ProtocolError {
  if (result.ok) throw new Error(`expected a refusal, decoded ${JSON.stringify(result.message)}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  return result.error;
}

const worker = (value: unknown) => decodeWorkerMessage(JSON.stringify(value));
const coordinator = (value: unknown) => decodeCoordinatorMessage(JSON.stringify(value));

describe("round trip", () => {
  test("there is a fixture for every message type", () => {
    expect(Object.keys(fixtures).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  for (const [direction, types] of Object.entries(directions) as [Direction, readonly string[]][]) {
    for (const type of types) {
      test(`${type} (${direction})`, () => {
        const message = fixtures[type as keyof typeof fixtures];
        const frame = encode(message);
        const result = decodeMessage(direction, frame);
        expect(result).toEqual({ ok: true, message });
        // Same from bytes, as Bun hands binary frames over.
        expect(decodeMessage(direction, new TextEncoder().encode(frame))).toEqual({ ok: true, message });
        expect(decodeMessage(direction, new TextEncoder().encode(frame).buffer as ArrayBuffer)).toEqual({ ok: true, message });
      });
    }
  }

  for (const [name, message] of Object.entries(variantFixtures)) {
    test(`variant ${name}`, () => {
      const direction: Direction = WORKER_MESSAGE_TYPES.includes(message.type as never) ? "worker_to_coordinator" : "coordinator_to_worker";
      expect(decodeMessage(direction, encode(message))).toEqual({ ok: true, message });
    });
  }
});

describe("specific errors", () => {
  test("wrong direction: a worker may not send welcome", () => {
    const error = refused(worker(fixtures.welcome));
    expect(error.code).toBe("unknown_type");
    expect(error.message).toContain('"welcome" is not sent by a worker');
    expect(error.message).toContain("job_result");
    expect(error.path).toBe("/type");
  });

  test("unknown type names the allowed ones", () => {
    const error = refused(coordinator({ type: "launch_missiles", id: "m9" }));
    expect(error.code).toBe("unknown_type");
    expect(error.message).toContain('unknown message type "launch_missiles"');
    expect(error.message).toContain("job_assignment");
    expect(error.messageId).toBe("m9");
  });

  test("missing or non-string type", () => {
    expect(refused(worker({ job_id: "x" })).message).toBe('invalid message at /type: missing required field "type"');
    const error = refused(worker({ type: 7 }));
    expect(error.code).toBe("invalid_message");
    expect(error.message).toContain('"type" must be a string (got 7)');
  });

  test("missing field names it", () => {
    const { fence: _fence, ...noFence } = fixtures.job_chunk;
    const error = refused(worker(noFence));
    expect(error.code).toBe("invalid_message");
    expect(error.path).toBe("/fence");
    expect(error.messageType).toBe("job_chunk");
    expect(error.message).toStartWith('invalid job_chunk at /fence: missing required field "fence"');
  });

  test("missing nested field names its full path", () => {
    const stats = { ...fixtures.heartbeat.stats, uptime_secs: undefined };
    const error = refused(worker({ ...fixtures.heartbeat, stats }));
    expect(error.path).toBe("/stats/uptime_secs");
  });

  test("bad enum lists the allowed values and the value received", () => {
    const error = refused(worker({ ...fixtures.heartbeat, status: "asleep" }));
    expect(error.code).toBe("invalid_message");
    expect(error.path).toBe("/status");
    expect(error.message).toBe('invalid heartbeat at /status: must be one of "idle", "busy", "paused", "throttled" (got "asleep")');
  });

  test("bad enum inside an array", () => {
    const gpu = { ...fixtures.register.gpu_info[0], backend: "rocm" };
    const error = refused(worker({ ...fixtures.register, gpu_info: [gpu] }));
    expect(error.path).toBe("/gpu_info/0/backend");
    expect(error.message).toContain('one of "cuda", "vulkan", "metal", "cpu"');
  });

  test("out-of-range number gives the range", () => {
    const params = { ...fixtures.job_assignment.params, temperature: 7 };
    const error = refused(coordinator({ ...fixtures.job_assignment, params }));
    expect(error.message).toBe("invalid job_assignment at /params/temperature: must be a number >= 0 and <= 2 (got 7)");
  });

  test("non-integer where an integer is required", () => {
    const error = refused(worker({ ...fixtures.job_chunk, seq: 1.5 }));
    expect(error.path).toBe("/seq");
    expect(error.message).toContain("must be an integer >= 0");
  });

  test("pattern failures use the field's description", () => {
    const model = { ...fixtures.job_assignment.model, sha256: "ABC" };
    const error = refused(coordinator({ ...fixtures.job_assignment, model }));
    expect(error.path).toBe("/model/sha256");
    expect(error.message).toContain("must be a SHA-256 digest in 64 lowercase hex characters");
  });

  test("unknown field is refused by name", () => {
    const error = refused(worker({ ...fixtures.job_accept, jobId: "x" }));
    expect(error.path).toBe("/jobId");
    expect(error.message).toContain('unknown field "jobId"');
  });

  test("__proto__ keys are unknown fields, not prototype changes", () => {
    const error = refused(decodeWorkerMessage('{"type":"job_accept","job_id":"j","fence":"f","__proto__":{"x":1}}'));
    expect(error.path).toBe("/__proto__");
  });

  test("oversize strings give the length and the limit, never echo the whole value", () => {
    const error = refused(worker({ ...fixtures.job_chunk, text: "x".repeat(70_000) }));
    expect(error.message).toBe("invalid job_chunk at /text: is 70000 characters long; the limit is 65536");
  });

  test("too many array items", () => {
    const params = { ...fixtures.job_assignment.params, stop: Array.from({ length: 17 }, (_, i) => `s${i}`) };
    const error = refused(coordinator({ ...fixtures.job_assignment, params }));
    expect(error.message).toBe("invalid job_assignment at /params/stop: has 17 items; the limit is 16");
  });

  test("cross-field rule: prompt and messages are exclusive", () => {
    const error = refused(coordinator({ ...fixtures.job_assignment, prompt: "hi" }));
    expect(error.code).toBe("invalid_message");
    expect(error.message).toBe("invalid job_assignment at /prompt: send exactly one of prompt (completion) or messages (chat)");
  });

  test("oversize frame: text and bytes, before any parsing", () => {
    const big = `{"type":"job_chunk","text":"${"x".repeat(MAX_FRAME_BYTES)}"}`;
    const fromText = refused(decodeWorkerMessage(big));
    expect(fromText.code).toBe("frame_too_large");
    expect(fromText.fatal).toBe(true);
    expect(fromText.message).toContain("the limit is 4,194,304 bytes");
    expect(refused(decodeWorkerMessage(new Uint8Array(MAX_FRAME_BYTES + 1))).code).toBe("frame_too_large");
  });

  test("oversize frame counts UTF-8 bytes, not characters", () => {
    const frame = JSON.stringify({ ...fixtures.job_chunk, text: "é".repeat(600) });
    expect(decodeWorkerMessage(frame, { maxFrameBytes: 1100 }).ok).toBe(false);
    expect(decodeWorkerMessage(frame, { maxFrameBytes: 1400 }).ok).toBe(true);
  });

  test("invalid JSON", () => {
    const error = refused(decodeWorkerMessage('{"type":"heartbeat",'));
    expect(error.code).toBe("invalid_json");
    expect(error.message).toContain("frame is not valid JSON");
    expect(error.fatal).toBe(false);
  });

  test("binary garbage is refused as invalid UTF-8", () => {
    const error = refused(decodeWorkerMessage(new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28])));
    expect(error.code).toBe("invalid_json");
    expect(error.message).toContain("not valid UTF-8");
  });

  test("JSON that is not an object", () => {
    for (const [frame, kind] of [
      ["[1,2]", "an array"],
      ["null", "null"],
      ["42", "a number"],
      ['"hello"', "a string"],
    ]) {
      const error = refused(decodeWorkerMessage(frame as string));
      expect(error.code).toBe("not_an_object");
      expect(error.message).toContain(`got ${kind}`);
    }
  });

  test("a value that is not a frame at all", () => {
    expect(refused(decodeWorkerMessage(42 as unknown as string)).code).toBe("invalid_json");
  });
});

describe("encode", () => {
  test("produces compact JSON that drops absent optional fields", () => {
    expect(encode(fixtures.job_accept)).toBe('{"type":"job_accept","job_id":"job_01HZX3K9Q4T8W2V6","fence":"f-42.3"}');
  });

  test("refuses an invalid message by default outside production", () => {
    const bad = { ...fixtures.heartbeat, status: "asleep" } as unknown as typeof fixtures.heartbeat;
    expect(() => encode(bad)).toThrow(ProtocolError);
    expect(encode(bad, { validate: false })).toContain('"asleep"');
  });

  test("refuses to produce an oversize frame even without validation", () => {
    const chunk = { ...fixtures.job_chunk, text: "x".repeat(2000) };
    expect(() => encode(chunk, { validate: false, maxFrameBytes: 1000 })).toThrow(/limit is 1,000 bytes/);
  });

  test("validateMessage checks the direction when asked", () => {
    expect(validateMessage(fixtures.welcome)).toBeUndefined();
    expect(validateMessage(fixtures.welcome, "coordinator_to_worker")).toBeUndefined();
    expect(validateMessage(fixtures.welcome, "worker_to_coordinator")?.code).toBe("unknown_type");
    expect(validateMessage([1])?.code).toBe("not_an_object");
  });
});
