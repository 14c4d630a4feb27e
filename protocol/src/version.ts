// Protocol versions: what this build speaks, and how a worker and a coordinator agree on one.
import { ProtocolError } from "./errors.ts";

/**
 * The protocol version this build prefers (the highest it speaks).
 * 2: `job_assignment.deterministic` (result verification) and `register.update_channel` (self-update);
 *    each side sends them only when version 2 was agreed, so 1 still works both ways.
 */
export const PROTOCOL_VERSION = 2;
/** The first version with each optional field that an older peer would refuse. */
export const SINCE = { deterministic: 2, updateChannel: 2 } as const;
/** The oldest protocol version this build still speaks. */
export const MIN_PROTOCOL_VERSION = 1;
/** The newest protocol version this build speaks. */
export const MAX_PROTOCOL_VERSION = PROTOCOL_VERSION;

export type NegotiateResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly error: ProtocolError };

const range = (min: number, max: number): string => `${min}–${max}`;

function validRange(min: number, max: number): boolean {
  return Number.isSafeInteger(min) && Number.isSafeInteger(max) && min >= 1 && min <= max;
}

/**
 * Picks the highest version both sides speak. On failure the error (code `unsupported_version`)
 * says which side is behind and what to update, e.g.
 * "worker speaks protocol 1–1, coordinator 2–3: update the worker".
 */
export function negotiateVersion(workerMin: number, workerMax: number, serverMin: number, serverMax: number): NegotiateResult {
  if (!validRange(workerMin, workerMax)) {
    return fail(
      `worker announced an invalid protocol range ${range(workerMin, workerMax)}: min and max must be integers >= 1 with min <= max`,
    );
  }
  if (!validRange(serverMin, serverMax)) {
    return fail(
      `coordinator is configured with an invalid protocol range ${range(serverMin, serverMax)}: fix its MIN/MAX protocol version`,
    );
  }
  const version = Math.min(workerMax, serverMax);
  if (version >= Math.max(workerMin, serverMin)) return { ok: true, version };
  const ranges = `worker speaks protocol ${range(workerMin, workerMax)}, coordinator ${range(serverMin, serverMax)}`;
  if (workerMax < serverMin) return fail(`${ranges}: update the worker`);
  return fail(
    `${ranges}: the worker is newer than this coordinator; update the coordinator or install a worker release that speaks protocol ${serverMax}`,
  );
}

function fail(message: string): NegotiateResult {
  return { ok: false, error: new ProtocolError("unsupported_version", message) };
}
