// Which messages flow in which direction: type → schema tables and the direction unions.
import { type Static, Type } from "@sinclair/typebox";
import { CommandMessage, ConfigUpdateMessage, UpdateAvailableMessage, UpdateCompleteMessage } from "./messages/control.ts";
import {
  AuthChallengeMessage,
  AuthResponseMessage,
  CertRenewedMessage,
  CertRenewMessage,
  ErrorMessage,
  HelloMessage,
  VersionMismatchMessage,
} from "./messages/handshake.ts";
import {
  JobAcceptMessage,
  JobAssignmentMessage,
  JobCancelMessage,
  JobChunkMessage,
  JobRejectMessage,
  JobResultMessage,
} from "./messages/jobs.ts";
import { HeartbeatAckMessage, HeartbeatMessage, RegisterMessage, WelcomeMessage } from "./messages/session.ts";

/** Messages a worker sends, by `type`. */
export const WORKER_MESSAGE_SCHEMAS = {
  hello: HelloMessage,
  auth_response: AuthResponseMessage,
  register: RegisterMessage,
  heartbeat: HeartbeatMessage,
  job_accept: JobAcceptMessage,
  job_reject: JobRejectMessage,
  job_chunk: JobChunkMessage,
  job_result: JobResultMessage,
  update_complete: UpdateCompleteMessage,
  cert_renew: CertRenewMessage,
  error: ErrorMessage,
} as const;

/** Messages a coordinator sends, by `type`. */
export const COORDINATOR_MESSAGE_SCHEMAS = {
  auth_challenge: AuthChallengeMessage,
  version_mismatch: VersionMismatchMessage,
  error: ErrorMessage,
  welcome: WelcomeMessage,
  heartbeat_ack: HeartbeatAckMessage,
  job_assignment: JobAssignmentMessage,
  job_cancel: JobCancelMessage,
  config_update: ConfigUpdateMessage,
  command: CommandMessage,
  update_available: UpdateAvailableMessage,
  cert_renewed: CertRenewedMessage,
} as const;

/** Every message, by `type` (`error` is the same schema in both directions). */
export const MESSAGE_SCHEMAS = { ...WORKER_MESSAGE_SCHEMAS, ...COORDINATOR_MESSAGE_SCHEMAS } as const;

type Schemas = typeof MESSAGE_SCHEMAS;
export type WorkerMessageType = keyof typeof WORKER_MESSAGE_SCHEMAS;
export type CoordinatorMessageType = keyof typeof COORDINATOR_MESSAGE_SCHEMAS;
export type MessageType = keyof Schemas;
/** The message whose `type` is T, e.g. `MessageOf<"job_chunk">`. */
export type MessageOf<T extends MessageType> = Static<Schemas[T]>;

export const WORKER_MESSAGE_TYPES = Object.keys(WORKER_MESSAGE_SCHEMAS) as WorkerMessageType[];
export const COORDINATOR_MESSAGE_TYPES = Object.keys(COORDINATOR_MESSAGE_SCHEMAS) as CoordinatorMessageType[];
export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[];

/** Union schema of worker → coordinator messages (for docs / JSON Schema; decode dispatches on `type`). */
export const WorkerToCoordinator = Type.Union(
  [
    HelloMessage,
    AuthResponseMessage,
    RegisterMessage,
    HeartbeatMessage,
    JobAcceptMessage,
    JobRejectMessage,
    JobChunkMessage,
    JobResultMessage,
    UpdateCompleteMessage,
    CertRenewMessage,
    ErrorMessage,
  ],
  { title: "WorkerToCoordinator" },
);
export type WorkerToCoordinator = Static<typeof WorkerToCoordinator>;

/** Union schema of coordinator → worker messages (for docs / JSON Schema; decode dispatches on `type`). */
export const CoordinatorToWorker = Type.Union(
  [
    AuthChallengeMessage,
    VersionMismatchMessage,
    ErrorMessage,
    WelcomeMessage,
    HeartbeatAckMessage,
    JobAssignmentMessage,
    JobCancelMessage,
    ConfigUpdateMessage,
    CommandMessage,
    UpdateAvailableMessage,
    CertRenewedMessage,
  ],
  { title: "CoordinatorToWorker" },
);
export type CoordinatorToWorker = Static<typeof CoordinatorToWorker>;

/** Any wire message. */
export type ProtocolMessage = WorkerToCoordinator | CoordinatorToWorker;

/** Who sent a frame. */
export type Direction = "worker_to_coordinator" | "coordinator_to_worker";
/** The messages that may travel in direction D. */
export type MessageFrom<D extends Direction> = D extends "worker_to_coordinator" ? WorkerToCoordinator : CoordinatorToWorker;

export function isWorkerMessageType(type: string): type is WorkerMessageType {
  return Object.hasOwn(WORKER_MESSAGE_SCHEMAS, type);
}

export function isCoordinatorMessageType(type: string): type is CoordinatorMessageType {
  return Object.hasOwn(COORDINATOR_MESSAGE_SCHEMAS, type);
}

export function isMessageType(type: string): type is MessageType {
  return Object.hasOwn(MESSAGE_SCHEMAS, type);
}
