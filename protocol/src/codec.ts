// Frame codec: size cap, UTF-8, JSON, dispatch on `type`, compiled schema check, cross-field rules.
import type { TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { describeValueError, preview } from "./describe-error.ts";
import { type DecodeResult, ProtocolError, type ProtocolErrorDetails } from "./errors.ts";
import { MAX_FRAME_BYTES } from "./limits.ts";
import {
  COORDINATOR_MESSAGE_SCHEMAS,
  COORDINATOR_MESSAGE_TYPES,
  type CoordinatorToWorker,
  type Direction,
  isCoordinatorMessageType,
  isMessageType,
  isWorkerMessageType,
  MESSAGE_SCHEMAS,
  type MessageFrom,
  type MessageType,
  type ProtocolMessage,
  WORKER_MESSAGE_SCHEMAS,
  WORKER_MESSAGE_TYPES,
  type WorkerToCoordinator,
} from "./registry.ts";
import { checkRules } from "./rules.ts";

/** A WebSocket payload as Bun hands it over: text, or bytes (Buffer is a Uint8Array). */
export type Frame = string | ArrayBuffer | Uint8Array;

export interface DecodeOptions {
  /** Refuse frames larger than this many UTF-8 bytes (default MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number;
}

export interface EncodeOptions {
  /** Check the message against its schema and rules first (default: unless NODE_ENV=production). */
  readonly validate?: boolean;
  /** Refuse to produce frames larger than this (default MAX_FRAME_BYTES). */
  readonly maxFrameBytes?: number;
}

const IDENTIFIER = /^[A-Za-z0-9._:-]{1,128}$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const checks = new Map<MessageType, TypeCheck<TSchema>>();

/** The compiled validator for a type, built on first use and kept. */
function checkerFor(type: MessageType): TypeCheck<TSchema> {
  let check = checks.get(type);
  if (check === undefined) {
    check = TypeCompiler.Compile<TSchema>(MESSAGE_SCHEMAS[type]);
    checks.set(type, check);
  }
  return check;
}

/** The UTF-8 size of `text` when it exceeds `limit`, else undefined; skips encoding when length decides. */
function oversizeBytes(text: string, limit: number): number | undefined {
  if (text.length > limit) return text.length; // every UTF-16 unit is at least one UTF-8 byte
  if (text.length * 3 <= limit) return undefined; // and at most three
  const bytes = Buffer.byteLength(text, "utf8");
  return bytes > limit ? bytes : undefined;
}

function tooLarge(bytes: number, limit: number): ProtocolError {
  return new ProtocolError(
    "frame_too_large",
    `frame is ${bytes.toLocaleString("en-US")} bytes or more; the limit is ${limit.toLocaleString("en-US")} bytes: shorten the prompt or stream output in job_chunk messages`,
    { path: "" },
  );
}

/** Frame → text, or the reason it cannot be text. */
function frameText(frame: unknown, limit: number): string | ProtocolError {
  if (typeof frame === "string") {
    const bytes = oversizeBytes(frame, limit);
    return bytes === undefined ? frame : tooLarge(bytes, limit);
  }
  let bytes: Uint8Array;
  if (frame instanceof Uint8Array) bytes = frame;
  else if (frame instanceof ArrayBuffer) bytes = new Uint8Array(frame);
  else if (ArrayBuffer.isView(frame)) bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  else return new ProtocolError("invalid_json", `frame must be text or bytes, got ${typeof frame}`, { path: "" });
  if (bytes.byteLength > limit) return tooLarge(bytes.byteLength, limit);
  try {
    return utf8.decode(bytes);
  } catch {
    return new ProtocolError("invalid_json", "frame is not valid UTF-8 text: send JSON text frames", { path: "" });
  }
}

/**
 * Deepest nesting of arrays and objects a frame may have. Real messages nest 3 levels; the cap
 * stops a frame of a million "[" from costing seconds of JSON.parse before its schema is checked.
 */
export const MAX_JSON_DEPTH = 32;

const [QUOTE, BACKSLASH, OPEN_BRACKET, CLOSE_BRACKET, OPEN_BRACE, CLOSE_BRACE] = [0x22, 0x5c, 0x5b, 0x5d, 0x7b, 0x7d];

/** Whether `text` nests arrays/objects deeper than `max` (strings skipped). Linear, no allocation. */
function nestsDeeperThan(text: string, max: number): boolean {
  // fewer than max+1 opening brackets anywhere: it cannot be too deep (indexOf is native and fast)
  let openers = 0;
  for (const mark of ["[", "{"]) {
    for (let at = text.indexOf(mark); at !== -1 && openers <= max; at = text.indexOf(mark, at + 1)) openers++;
  }
  if (openers <= max) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i === -1) return false; // unterminated: JSON.parse says so
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
  }
  return false;
}

/** The index of the quote that closes the string opened at `open`, or -1 (skips string bodies natively). */
function closingQuote(text: string, open: number): number {
  for (let at = text.indexOf('"', open + 1); at !== -1; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** Schema + rules check of an object whose `type` is known. */
function checkKnown(type: MessageType, value: Record<string, unknown>, details: ProtocolErrorDetails): ProtocolError | undefined {
  const check = checkerFor(type);
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const path = first?.path ?? "";
    const why = first === undefined ? "does not match its schema" : describeValueError(first);
    return new ProtocolError("invalid_message", `invalid ${type} at ${path || "/"}: ${why}`, { ...details, path });
  }
  const broken = checkRules(value as unknown as ProtocolMessage);
  if (broken !== undefined) {
    return new ProtocolError("invalid_message", `invalid ${type} at ${broken.path}: ${broken.message}`, { ...details, path: broken.path });
  }
  return undefined;
}

const SENDERS: Record<Direction, { readonly name: string; readonly types: readonly string[]; readonly has: (t: string) => boolean }> = {
  worker_to_coordinator: { name: "a worker", types: WORKER_MESSAGE_TYPES, has: isWorkerMessageType },
  coordinator_to_worker: { name: "the coordinator", types: COORDINATOR_MESSAGE_TYPES, has: isCoordinatorMessageType },
};

function decodeUnsafe(direction: Direction, frame: unknown, limit: number): DecodeResult<ProtocolMessage> {
  const text = frameText(frame, limit);
  if (text instanceof ProtocolError) return { ok: false, error: text };
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    const error = new ProtocolError("invalid_json", `frame nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels: no message does`, {
      path: "",
    });
    return { ok: false, error };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    return {
      ok: false,
      error: new ProtocolError("invalid_json", `frame is not valid JSON (${why}): send one JSON object per frame`, { path: "" }),
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const error = new ProtocolError("not_an_object", `frame must be a JSON object like {"type": "..."}, got ${kindOf(value)}`, {
      path: "",
    });
    return { ok: false, error };
  }
  const object = value as Record<string, unknown>;
  const id = object.id;
  const details: ProtocolErrorDetails = typeof id === "string" && IDENTIFIER.test(id) ? { messageId: id } : {};
  const type = object.type;
  if (typeof type !== "string") {
    const why = type === undefined ? 'missing required field "type"' : `"type" must be a string (got ${preview(type)})`;
    return { ok: false, error: new ProtocolError("invalid_message", `invalid message at /type: ${why}`, { ...details, path: "/type" }) };
  }
  const sender = SENDERS[direction];
  if (!sender.has(type) || !isMessageType(type)) {
    const why = isMessageType(type) ? `"${type}" is not sent by ${sender.name}` : `unknown message type ${preview(type)}`;
    const error = new ProtocolError("unknown_type", `${why}; ${sender.name} may send: ${sender.types.join(", ")}`, {
      ...details,
      path: "/type",
    });
    return { ok: false, error };
  }
  const error = checkKnown(type, object, { ...details, messageType: type });
  return error === undefined ? { ok: true, message: object as unknown as ProtocolMessage } : { ok: false, error };
}

/**
 * Decodes one frame sent in `direction`. Never throws: every failure comes back as a
 * ProtocolError whose message names the offending field.
 */
export function decodeMessage<D extends Direction>(direction: D, frame: Frame, options: DecodeOptions = {}): DecodeResult<MessageFrom<D>> {
  const limit = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  try {
    return decodeUnsafe(direction, frame, limit) as DecodeResult<MessageFrom<D>>;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    return { ok: false, error: new ProtocolError("invalid_message", `frame could not be decoded: ${why}`, { path: "" }) };
  }
}

/** Decodes a frame received by the coordinator from a worker. Never throws. */
export function decodeWorkerMessage(frame: Frame, options?: DecodeOptions): DecodeResult<WorkerToCoordinator> {
  return decodeMessage("worker_to_coordinator", frame, options);
}

/** Decodes a frame received by a worker from the coordinator. Never throws. */
export function decodeCoordinatorMessage(frame: Frame, options?: DecodeOptions): DecodeResult<CoordinatorToWorker> {
  return decodeMessage("coordinator_to_worker", frame, options);
}

/**
 * Checks an outgoing (or any) value against the schema of its `type` and the cross-field rules.
 * With `direction`, also checks that this side may send it. Returns the error, or undefined.
 */
export function validateMessage(value: unknown, direction?: Direction): ProtocolError | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return new ProtocolError("not_an_object", `a message must be an object with a "type" field, got ${kindOf(value)}`, { path: "" });
  }
  const object = value as Record<string, unknown>;
  const type = object.type;
  const table: Readonly<Record<string, unknown>> =
    direction === undefined
      ? MESSAGE_SCHEMAS
      : direction === "worker_to_coordinator"
        ? WORKER_MESSAGE_SCHEMAS
        : COORDINATOR_MESSAGE_SCHEMAS;
  if (typeof type !== "string" || !Object.hasOwn(table, type) || !isMessageType(type)) {
    return new ProtocolError("unknown_type", `unknown message type ${preview(type)}`, { path: "/type" });
  }
  return checkKnown(type, object, { messageType: type });
}

/**
 * Serialises a message to one JSON text frame. Throws ProtocolError (a bug in the sender) when
 * validation is on and the message is invalid, or when the frame would exceed the size limit.
 */
export function encode(message: ProtocolMessage, options: EncodeOptions = {}): string {
  const validate = options.validate ?? process.env.NODE_ENV !== "production";
  if (validate) {
    const error = validateMessage(message);
    if (error !== undefined) throw error;
  }
  const text = JSON.stringify(message);
  const limit = options.maxFrameBytes ?? MAX_FRAME_BYTES;
  const bytes = oversizeBytes(text, limit);
  if (bytes !== undefined) throw tooLarge(bytes, limit);
  return text;
}
