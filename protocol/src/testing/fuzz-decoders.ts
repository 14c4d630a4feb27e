// Fuzzes both frame decoders with hostile frames and checks every answer, for CI and the soak.
import fc from "fast-check";
import { decodeCoordinatorMessage, decodeMessage, encode, validateMessage } from "../codec.ts";
import { PROTOCOL_ERROR_CODES, ProtocolError } from "../errors.ts";
import type { Direction } from "../registry.ts";
import { errorMessageFor } from "../replies.ts";
import { type HostileFrame, hostileFrameArbitrary } from "./hostile-frames.ts";

/** The longest error frame the coordinator may send back for a refused frame. */
export const MAX_ERROR_REPLY_CHARS = 2048;

export interface DecoderFuzzReport {
  target: "decoders";
  /** Frames generated; each is decoded by both decoders. */
  inputs: number;
  decodes: number;
  seconds: number;
  /** Decodes that returned a message. */
  accepted: number;
  /** Decodes refused, by ProtocolError code. */
  refused: Record<string, number>;
  /** Frames per generator. */
  kinds: Record<string, number>;
  /** The slowest single decode, in milliseconds. */
  slowest_ms: number;
  seed: number;
  /** The first broken property with its (shrunk) input, or null. */
  failure: string | null;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const DIRECTIONS: readonly Direction[] = ["worker_to_coordinator", "coordinator_to_worker"];

function byteLength(frame: HostileFrame["frame"]): number {
  return typeof frame === "string" ? Buffer.byteLength(frame, "utf8") : frame.byteLength;
}

function textOf(frame: HostileFrame["frame"]): string | null {
  if (typeof frame === "string") return frame;
  try {
    return utf8.decode(frame);
  } catch {
    return null;
  }
}

function describeInput(input: HostileFrame): string {
  const f = input.frame;
  const shown = typeof f === "string" ? JSON.stringify(f.slice(0, 200)) : `${f.byteLength} bytes`;
  return `${input.kind} frame ${shown}${typeof f === "string" && f.length > 200 ? "…" : ""} (limit ${input.maxFrameBytes ?? "default"})`;
}

/**
 * The properties, for one frame and one direction. Throws an Error naming the broken one.
 * Returns the decode's outcome and how long it took.
 */
function checkDecode(input: HostileFrame, direction: Direction): { code: string | null; ms: number } {
  const options = input.maxFrameBytes === undefined ? {} : { maxFrameBytes: input.maxFrameBytes };
  const t0 = performance.now();
  let result: ReturnType<typeof decodeMessage>;
  try {
    result = decodeMessage(direction, input.frame, options);
  } catch (e) {
    throw new Error(`decode threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  const ms = performance.now() - t0;
  const oversize = input.maxFrameBytes !== undefined && byteLength(input.frame) > input.maxFrameBytes;
  if (result.ok) {
    if (oversize) throw new Error("accepted a frame over the size limit");
    const problem = validateMessage(result.message, direction);
    if (problem) throw new Error(`accepted a message that does not validate: ${problem.message}`);
    const text = textOf(input.frame);
    if (text === null || !Bun.deepEquals(result.message, JSON.parse(text), true))
      throw new Error("accepted message differs from the frame's JSON");
    return { code: null, ms };
  }
  const error = result.error;
  if (!(error instanceof ProtocolError)) throw new Error("refusal is not a ProtocolError");
  if (!PROTOCOL_ERROR_CODES.includes(error.code)) throw new Error(`unknown error code ${String(error.code)}`);
  if (typeof error.message !== "string" || error.message.length === 0) throw new Error("refusal without a message");
  if (oversize && error.code !== "frame_too_large") throw new Error(`oversize frame refused as ${error.code}, not frame_too_large`);
  if (error.fatal !== (error.code === "frame_too_large" || error.code === "unsupported_version")) throw new Error("wrong fatal flag");
  // the coordinator answers a refused frame with this error frame: it must always be sendable
  let wire: string;
  try {
    wire = encode(errorMessageFor(error), { validate: true });
  } catch (e) {
    throw new Error(`the error reply for ${error.code} cannot be encoded: ${(e as Error).message}`);
  }
  if (wire.length > MAX_ERROR_REPLY_CHARS) throw new Error(`the error reply is ${wire.length} characters`);
  const back = decodeCoordinatorMessage(wire);
  if (!back.ok || back.message.type !== "error") throw new Error("the error reply does not decode as an error frame");
  return { code: error.code, ms };
}

/** Decodes `runs` hostile frames with both decoders, checking every answer (fc.check, shrinking on failure). */
export function fuzzDecoders(opts: { runs: number; seed?: number }): DecoderFuzzReport {
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const report: DecoderFuzzReport = {
    target: "decoders",
    inputs: 0,
    decodes: 0,
    seconds: 0,
    accepted: 0,
    refused: {},
    kinds: {},
    slowest_ms: 0,
    seed,
    failure: null,
  };
  const t0 = performance.now();
  const details = fc.check(
    fc.property(hostileFrameArbitrary(), (input) => {
      report.inputs++;
      report.kinds[input.kind] = (report.kinds[input.kind] ?? 0) + 1;
      for (const direction of DIRECTIONS) {
        let outcome: { code: string | null; ms: number };
        try {
          outcome = checkDecode(input, direction);
        } catch (e) {
          throw new Error(`${direction}: ${(e as Error).message} — ${describeInput(input)}`);
        }
        report.decodes++;
        report.slowest_ms = Math.max(report.slowest_ms, outcome.ms);
        if (outcome.code === null) report.accepted++;
        else report.refused[outcome.code] = (report.refused[outcome.code] ?? 0) + 1;
      }
    }),
    { numRuns: opts.runs, seed },
  );
  report.seconds = Math.round((performance.now() - t0) / 10) / 100;
  report.slowest_ms = Math.round(report.slowest_ms * 100) / 100;
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    report.failure = `seed ${seed}, after ${details.numRuns} runs (${details.numShrinks} shrinks): ${why}`;
  }
  return report;
}
