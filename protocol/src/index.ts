// @gogrid/protocol: the wire messages between coordinator and workers, their validators and codec.
export { AUTH_CONTEXT, authChallengePayload, newNonce } from "./auth-payload.ts";
export {
  type DecodeOptions,
  decodeCoordinatorMessage,
  decodeMessage,
  decodeWorkerMessage,
  type EncodeOptions,
  encode,
  type Frame,
  validateMessage,
} from "./codec.ts";
export { type DecodeResult, PROTOCOL_ERROR_CODES, ProtocolError, type ProtocolErrorCode, type ProtocolErrorDetails } from "./errors.ts";
export { fixtures, variantFixtures } from "./fixtures.ts";
export { LIMITS, MAX_FRAME_BYTES } from "./limits.ts";
export * from "./messages/common.ts";
export * from "./messages/control.ts";
export * from "./messages/handshake.ts";
export * from "./messages/jobs.ts";
export * from "./messages/session.ts";
export {
  COORDINATOR_MESSAGE_SCHEMAS,
  COORDINATOR_MESSAGE_TYPES,
  type CoordinatorMessageType,
  CoordinatorToWorker,
  type Direction,
  isCoordinatorMessageType,
  isMessageType,
  isWorkerMessageType,
  MESSAGE_SCHEMAS,
  MESSAGE_TYPES,
  type MessageFrom,
  type MessageOf,
  type MessageType,
  type ProtocolMessage,
  WORKER_MESSAGE_SCHEMAS,
  WORKER_MESSAGE_TYPES,
  type WorkerMessageType,
  WorkerToCoordinator,
} from "./registry.ts";
export { errorMessageFor, versionMismatchFor } from "./replies.ts";
export { checkRules, type RuleViolation } from "./rules.ts";
export { MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, type NegotiateResult, negotiateVersion, PROTOCOL_VERSION, SINCE } from "./version.ts";
