// Session messages: register → welcome, then heartbeat ↔ heartbeat_ack while connected.
import { type Static, Type } from "@sinclair/typebox";
import { LIMITS } from "../limits.ts";
import { Counter, defineMessage, Identifier, ModelId, Percent, SemVer, UnixMillis } from "./common.ts";

export const GpuBackend = Type.Union([Type.Literal("cuda"), Type.Literal("vulkan"), Type.Literal("metal"), Type.Literal("cpu")]);
export type GpuBackend = Static<typeof GpuBackend>;

export const ResourceMode = Type.Union([Type.Literal("conservative"), Type.Literal("default"), Type.Literal("aggressive")]);
export type ResourceMode = Static<typeof ResourceMode>;

export const UpdateChannel = Type.Union([Type.Literal("stable"), Type.Literal("beta"), Type.Literal("dev")]);
export type UpdateChannel = Static<typeof UpdateChannel>;

/** Operating systems we ship a worker for, as `process.platform` names them. */
export const WorkerOs = Type.Union([Type.Literal("linux"), Type.Literal("darwin"), Type.Literal("win32")]);
export type WorkerOs = Static<typeof WorkerOs>;

/** CPU architectures we ship a worker for, as `process.arch` names them. */
export const WorkerArch = Type.Union([Type.Literal("x64"), Type.Literal("arm64")]);
export type WorkerArch = Static<typeof WorkerArch>;

export const GpuInfo = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    vendor: Type.String({ minLength: 1, maxLength: 64 }),
    vram_mb: Type.Integer({ minimum: 0, maximum: 4_194_304 }),
    backend: GpuBackend,
    driver: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type GpuInfo = Static<typeof GpuInfo>;

export const Capabilities = Type.Object(
  {
    max_concurrent_jobs: Type.Integer({ minimum: 1, maximum: LIMITS.MAX_CONCURRENT_JOBS }),
    /** Model ids already in the worker's cache. */
    models: Type.Array(ModelId, { maxItems: LIMITS.MAX_MODELS }),
    /** Largest context, in tokens, the worker will allocate. */
    max_context: Type.Integer({ minimum: 1, maximum: LIMITS.MAX_CONTEXT }),
  },
  { additionalProperties: false },
);
export type Capabilities = Static<typeof Capabilities>;

/** Settings the coordinator may impose on a worker; every field optional (absent = keep local). */
export const WorkerConfig = Type.Object(
  {
    resource_mode: Type.Optional(ResourceMode),
    max_concurrent_jobs: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.MAX_CONCURRENT_JOBS })),
    max_context: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.MAX_CONTEXT })),
    /** Cap on VRAM the worker may use, in MiB. */
    max_vram_mb: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_194_304 })),
    /** Pause inference while the contributor is using the machine. */
    pause_when_user_active: Type.Optional(Type.Boolean()),
    update_channel: Type.Optional(UpdateChannel),
    log_level: Type.Optional(Type.Union([Type.Literal("debug"), Type.Literal("info"), Type.Literal("warn"), Type.Literal("error")])),
  },
  { additionalProperties: false },
);
export type WorkerConfig = Static<typeof WorkerConfig>;

/** Worker → coordinator, after authentication: who I am and what I can run. */
export const RegisterMessage = defineMessage(
  "register",
  {
    client_id: Identifier,
    gpu_info: Type.Array(GpuInfo, { maxItems: LIMITS.MAX_GPUS }),
    capabilities: Capabilities,
    resource_mode: ResourceMode,
    version: SemVer,
    os: WorkerOs,
    arch: WorkerArch,
    /** Minutes east of UTC of the contributor's clock, so "earned today" means their today. */
    utc_offset_minutes: Type.Optional(Type.Integer({ minimum: -1440, maximum: 1440 })),
    /** The release channel the worker follows (absent: stable). */
    update_channel: Type.Optional(UpdateChannel),
  },
  "Worker's identity, hardware and capabilities.",
);
export type RegisterMessage = Static<typeof RegisterMessage>;

/** Coordinator → worker: registration accepted. */
export const WelcomeMessage = defineMessage(
  "welcome",
  {
    node_id: Identifier,
    /** Seconds between heartbeats. */
    heartbeat_interval: Type.Integer({ minimum: 1, maximum: 3600 }),
    config: WorkerConfig,
  },
  "Registration accepted: node id, heartbeat interval and imposed config.",
);
export type WelcomeMessage = Static<typeof WelcomeMessage>;

export const WorkerStatus = Type.Union([Type.Literal("idle"), Type.Literal("busy"), Type.Literal("paused"), Type.Literal("throttled")]);
export type WorkerStatus = Static<typeof WorkerStatus>;

export const HeartbeatStats = Type.Object(
  {
    cpu_percent: Percent,
    memory_percent: Percent,
    gpu_percent: Type.Optional(Percent),
    vram_used_mb: Type.Optional(Type.Integer({ minimum: 0, maximum: 4_194_304 })),
    jobs_running: Type.Integer({ minimum: 0, maximum: LIMITS.MAX_CONCURRENT_JOBS }),
    /** Counters since the worker process started. */
    jobs_completed: Counter,
    tokens_generated: Counter,
    throttled_requests: Counter,
    uptime_secs: Counter,
  },
  { additionalProperties: false },
);
export type HeartbeatStats = Static<typeof HeartbeatStats>;

/** Worker → coordinator every `heartbeat_interval` seconds. */
export const HeartbeatMessage = defineMessage(
  "heartbeat",
  { status: WorkerStatus, stats: HeartbeatStats },
  "Periodic liveness and load report.",
);
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;

/** A money amount as a decimal string (no float rounding), e.g. "12.345678". */
export const Amount = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: "^(0|[1-9][0-9]{0,17})(\\.[0-9]{1,12})?$",
  description: "a non-negative decimal amount like 12.3456",
});

export const Earnings = Type.Object(
  {
    today: Amount,
    week: Amount,
    month: Amount,
    total: Amount,
    /** ISO 4217 code, e.g. "USD". */
    currency: Type.String({ pattern: "^[A-Z]{3}$", minLength: 3, maxLength: 3, description: "an ISO 4217 currency code like USD" }),
  },
  { additionalProperties: false },
);
export type Earnings = Static<typeof Earnings>;

/** Coordinator → worker in reply to each heartbeat. */
export const HeartbeatAckMessage = defineMessage(
  "heartbeat_ack",
  {
    /** Coordinator clock, ms since the epoch (lets the worker estimate skew). */
    server_time: UnixMillis,
    earnings: Earnings,
  },
  "Heartbeat acknowledged, with the coordinator's clock and the node's earnings.",
);
export type HeartbeatAckMessage = Static<typeof HeartbeatAckMessage>;
