// Every coordinator setting, declared once: TOML key, environment variable, flag, type, default, help.

export type SettingType = "string" | "int" | "number" | "bool" | "list";

export interface SettingSpec<T extends SettingType = SettingType> {
  /** Dotted TOML key, e.g. "api.port" ([api] port = 8080). */
  key: string;
  type: T;
  default: SettingValue<T>;
  description: string;
  /** Integers and numbers: allowed range. */
  min?: number;
  max?: number;
  /** Strings: allowed values. */
  choices?: readonly string[];
}

export type SettingValue<T extends SettingType> = T extends "int" | "number"
  ? number
  : T extends "bool"
    ? boolean
    : T extends "list"
      ? string[]
      : string;

function s<T extends SettingType>(spec: SettingSpec<T>): SettingSpec<T> {
  return spec;
}

export const SETTINGS = {
  dataDir: s({ key: "data_dir", type: "string", default: "./gogrid-data", description: "folder for the database, PKI and models" }),
  instanceId: s({
    key: "instance_id",
    type: "string",
    default: "",
    description: "this instance's id when several share one Postgres (default: random)",
  }),
  logLevel: s({ key: "log.level", type: "string", default: "info", choices: ["debug", "info", "warn", "error"], description: "log level" }),
  apiHost: s({
    key: "api.host",
    type: "string",
    default: "127.0.0.1",
    description: "address of the API port (client API, enrolment, dashboard, metrics)",
  }),
  apiPort: s({ key: "api.port", type: "int", default: 8080, min: 0, max: 65535, description: "API port (0 = any free port)" }),
  publicUrl: s({
    key: "api.public_url",
    type: "string",
    default: "",
    description: "the API's URL as workers and clients reach it (default: http://<api.host>:<api.port>)",
  }),
  workerHost: s({
    key: "worker.host",
    type: "string",
    default: "0.0.0.0",
    description: "address of the worker port (WSS with mutual TLS)",
  }),
  workerPort: s({ key: "worker.port", type: "int", default: 8443, min: 0, max: 65535, description: "worker port (0 = any free port)" }),
  releasesDir: s({
    key: "updates.releases_dir",
    type: "string",
    default: "",
    description: "signed worker releases to serve and offer (bun run release publish writes it; default <data_dir>/releases)",
  }),
  updateCheckSecs: s({
    key: "updates.check_secs",
    type: "int",
    default: 30,
    min: 1,
    max: 86_400,
    description: "how often the releases folder is read for a new manifest to offer to connected workers",
  }),
  serverNames: s({
    key: "pki.server_names",
    type: "list",
    default: ["localhost", "127.0.0.1", "::1"],
    description: "DNS names and IPs in the server certificate (comma-separated in env and flags)",
  }),
  databaseUrl: s({
    key: "database.url",
    type: "string",
    default: "",
    description: "postgres://… for Postgres; empty = SQLite file <data_dir>/gogrid.db",
  }),
  heartbeatSecs: s({
    key: "gateway.heartbeat_secs",
    type: "int",
    default: 15,
    min: 1,
    max: 3600,
    description: "heartbeat interval asked of workers",
  }),
  offlineAfterSecs: s({
    key: "gateway.offline_after_secs",
    type: "int",
    default: 45,
    min: 2,
    max: 86400,
    description: "a worker silent this long is offline",
  }),
  leaseSecs: s({
    key: "jobs.lease_secs",
    type: "int",
    default: 30,
    min: 2,
    max: 86400,
    description: "a job attempt's lease; extended while the worker streams",
  }),
  jobTimeoutSecs: s({
    key: "jobs.timeout_secs",
    type: "int",
    default: 600,
    min: 1,
    max: 86400,
    description: "longest time one attempt may run",
  }),
  maxAttempts: s({
    key: "jobs.max_attempts",
    type: "int",
    default: 3,
    min: 1,
    max: 100,
    description: "attempts before a job is dead-lettered",
  }),
  retryBaseMs: s({
    key: "jobs.retry_base_ms",
    type: "int",
    default: 500,
    min: 0,
    max: 3_600_000,
    description: "first retry delay; doubles per attempt",
  }),
  retentionDays: s({
    key: "jobs.retention_days",
    type: "int",
    default: 30,
    min: 0,
    max: 36_500,
    description: "finished jobs (their prompts and results) are deleted this many days after they end; 0 keeps them; credits stay",
  }),
  queueLimit: s({
    key: "jobs.queue_limit",
    type: "int",
    default: 1000,
    min: 1,
    max: 10_000_000,
    description: "queued jobs beyond which new requests get 503",
  }),
  maxPromptChars: s({
    key: "limits.max_prompt_chars",
    type: "int",
    default: 200_000,
    min: 1,
    max: 1_000_000,
    description: "longest prompt accepted (characters)",
  }),
  maxTokens: s({
    key: "limits.max_tokens",
    type: "int",
    default: 4096,
    min: 1,
    max: 1_000_000,
    description: "highest max_tokens a request may ask",
  }),
  metricsToken: s({
    key: "metrics.token",
    type: "string",
    default: "",
    description: "bearer token /metrics requires (empty: open, keep the API port private)",
  }),
  enrolmentTokenTtlSecs: s({
    key: "enrolment.token_ttl_secs",
    type: "int",
    default: 86_400,
    min: 60,
    max: 31_536_000,
    description: "default lifetime of enrolment tokens",
  }),
  auditFraction: s({
    key: "audit.fraction",
    type: "number",
    default: 0.02,
    min: 0,
    max: 1,
    description: "share of client jobs re-run on a second worker of the same class to check the result (0 = no audits)",
  }),
  auditDeterministicFraction: s({
    key: "audit.deterministic_fraction",
    type: "number",
    default: 0.1,
    min: 0,
    max: 1,
    description: "share of client jobs run deterministically (alone, no prompt cache): the audited ones plus decoys",
  }),
  auditCanaryFraction: s({
    key: "audit.canary_fraction",
    type: "number",
    default: 0.01,
    min: 0,
    max: 1,
    description: "chance, after each completed client job, of a canary (known-answer job) for that worker",
  }),
  auditTrustThreshold: s({
    key: "audit.trust_threshold",
    type: "number",
    default: 0.7,
    min: 0,
    max: 0.999,
    description: "trust below which a worker is quarantined: no jobs, no credit (gogrid-admin workers release lifts it)",
  }),
  auditTrustPrior: s({
    key: "audit.trust_prior",
    type: "int",
    default: 8,
    min: 1,
    max: 10_000,
    description: "pseudo-matches of a new worker: trust = (prior + matches) / (prior + matches + mismatches)",
  }),
  auditStaleSecs: s({
    key: "audit.stale_secs",
    type: "int",
    default: 3600,
    min: 10,
    max: 604_800,
    description: "checks not finished this long after they began are closed as unresolved",
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type Config = { [K in SettingName]: SettingValue<(typeof SETTINGS)[K]["type"]> };

/** GOGRID_API_PORT for "api.port". */
export function envName(spec: SettingSpec): string {
  return `GOGRID_${spec.key.replace(/[.]/g, "_").toUpperCase()}`;
}

/** --api-port for "api.port", --data-dir for "data_dir". */
export function flagName(spec: SettingSpec): string {
  return `--${spec.key.replace(/[._]/g, "-")}`;
}
