// Replies to refused frames: error and version_mismatch frames are themselves valid messages.
import { describe, expect, test } from "bun:test";
import { decodeCoordinatorMessage, decodeWorkerMessage, encode } from "./codec.ts";
import { fixtures, variantFixtures } from "./fixtures.ts";
import { errorMessageFor, versionMismatchFor } from "./replies.ts";
import { checkRules } from "./rules.ts";
import { negotiateVersion } from "./version.ts";

describe("replies", () => {
  test("errorMessageFor echoes the id and path, and is a valid error frame", () => {
    const result = decodeWorkerMessage(JSON.stringify({ ...fixtures.heartbeat, id: "m17", status: "asleep" }));
    if (result.ok) throw new Error("expected a refusal");
    const reply = errorMessageFor(result.error, 1_000);
    expect(reply).toEqual({
      type: "error",
      ts: 1_000,
      code: "invalid_message",
      message: result.error.message,
      fatal: false,
      in_reply_to: "m17",
      path: "/status",
    });
    expect(decodeCoordinatorMessage(encode(reply))).toEqual({ ok: true, message: reply });
  });

  test("oversize frames get a fatal error", () => {
    const result = decodeWorkerMessage("x".repeat(100), { maxFrameBytes: 10 });
    if (result.ok) throw new Error("expected a refusal");
    expect(errorMessageFor(result.error).fatal).toBe(true);
  });

  test("versionMismatchFor builds a valid version_mismatch with this side's range", () => {
    const negotiated = negotiateVersion(2, 3, 1, 1);
    if (negotiated.ok) throw new Error("expected a mismatch");
    const reply = versionMismatchFor(negotiated.error, 1, 1, 5);
    expect(reply.min_protocol_version).toBe(1);
    expect(decodeCoordinatorMessage(encode(reply))).toEqual({ ok: true, message: reply });
  });
});

describe("cross-field rules", () => {
  const cases: [string, object, string][] = [
    ["hello range", { ...fixtures.hello, min_protocol_version: 2, max_protocol_version: 1 }, "/min_protocol_version"],
    ["hello outside range", { ...fixtures.hello, protocol_version: 2 }, "/protocol_version"],
    ["auth_response names no cert", { ...fixtures.auth_response, cert_serial: undefined }, "/cert_serial"],
    ["job_assignment neither prompt nor messages", { ...fixtures.job_assignment, messages: undefined }, "/prompt"],
    ["completed with finish_reason null", { ...fixtures.job_result, finish_reason: null }, "/finish_reason"],
    ["completed with an error", { ...fixtures.job_result, error: { code: "x", message: "y" } }, "/error"],
    ["failed without error", { ...variantFixtures.jobResultFailed, error: undefined }, "/error"],
    ["cancelled with finish_reason stop", { ...variantFixtures.jobResultCancelled, finish_reason: "stop" }, "/finish_reason"],
    ["duration on resume", { ...variantFixtures.commandResume, duration_secs: 5 }, "/duration_secs"],
    ["failed update without error", { ...fixtures.update_complete, ok: false }, "/error"],
    ["ok update with error", { ...variantFixtures.updateFailed, ok: true }, "/error"],
    ["version_mismatch range", { ...fixtures.version_mismatch, min_protocol_version: 4 }, "/min_protocol_version"],
  ];
  for (const [name, message, path] of cases) {
    test(name, () => {
      const violation = checkRules(message as Parameters<typeof checkRules>[0]);
      expect(violation?.path).toBe(path);
      const type = (message as { type: string }).type;
      const frame = JSON.stringify(message);
      const result = ["job_assignment", "command", "version_mismatch"].includes(type)
        ? decodeCoordinatorMessage(frame)
        : decodeWorkerMessage(frame);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.path).toBe(path);
    });
  }
});
