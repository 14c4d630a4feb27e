// Control messages: config updates, pause/resume/restart commands, and self-update.
import { type Static, Type } from "@sinclair/typebox";
import { LIMITS } from "../limits.ts";
import { defineMessage, ErrorDetail, HttpUrl, ModelId, Reason, SemVer, Sha256 } from "./common.ts";
import { UpdateChannel, WorkerConfig } from "./session.ts";

/** A model the worker should fetch into its cache ahead of jobs. */
export const ModelDownload = Type.Object(
  {
    id: ModelId,
    url: HttpUrl,
    sha256: Sha256,
    /** File size in bytes. */
    size: Type.Integer({ minimum: 1, maximum: LIMITS.MAX_MODEL_BYTES }),
  },
  { additionalProperties: false },
);
export type ModelDownload = Static<typeof ModelDownload>;

/** Coordinator → worker: change some settings (absent fields keep their value), maybe prefetch a model. */
export const ConfigUpdateMessage = defineMessage(
  "config_update",
  {
    config: WorkerConfig,
    /** New heartbeat interval, in seconds. */
    heartbeat_interval: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600 })),
    model_update: Type.Optional(ModelDownload),
  },
  "Partial config change and optional model prefetch.",
);
export type ConfigUpdateMessage = Static<typeof ConfigUpdateMessage>;

export const CommandAction = Type.Union([Type.Literal("pause"), Type.Literal("resume"), Type.Literal("restart")]);
export type CommandAction = Static<typeof CommandAction>;

/** Coordinator → worker: operator command. `duration_secs` only goes with "pause" (absent = until resumed). */
export const CommandMessage = defineMessage(
  "command",
  {
    action: CommandAction,
    reason: Type.Optional(Reason),
    duration_secs: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.MAX_PAUSE_SECS })),
  },
  "Pause, resume or restart the worker.",
);
export type CommandMessage = Static<typeof CommandMessage>;

/** Coordinator → worker: a release is published; the worker fetches and verifies the signed manifest. */
export const UpdateAvailableMessage = defineMessage(
  "update_available",
  { version: SemVer, channel: UpdateChannel, manifest_url: HttpUrl },
  "A newer worker release is available.",
);
export type UpdateAvailableMessage = Static<typeof UpdateAvailableMessage>;

/** Worker → coordinator after an update attempt: once registered on the new release, or when it failed. */
export const UpdateCompleteMessage = defineMessage(
  "update_complete",
  { version: SemVer, previous_version: SemVer, ok: Type.Boolean(), error: Type.Optional(ErrorDetail) },
  "Outcome of a self-update; `error` is present exactly when `ok` is false.",
);
export type UpdateCompleteMessage = Static<typeof UpdateCompleteMessage>;
