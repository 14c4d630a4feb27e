// config.toml: sections server, client, resources, worker, logging; errors name the key.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Static, Type as T, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parse as parseToml } from "smol-toml";

const Percent = T.Integer({ minimum: 1, maximum: 100 });
const Mode = T.Union([T.Literal("conservative"), T.Literal("default"), T.Literal("aggressive")]);

export const WorkerConfigSchema = T.Object(
  {
    server: T.Object(
      {
        /** The coordinator's worker port, wss://host:8443. */
        url: T.String({ default: "", pattern: "^(wss://.+)?$" }),
        /** The coordinator's API port (enrolment), http(s)://host:8080. */
        api_url: T.String({ default: "", pattern: "^(https?://.+)?$" }),
        /** Base64 SHA-256 of the coordinator certificate's public key (set at enrolment). */
        pin: T.String({ default: "" }),
      },
      { additionalProperties: false, default: {} },
    ),
    client: T.Object(
      {
        name: T.String({ default: "", maxLength: 128 }),
        enrolment_token: T.String({ default: "" }),
      },
      { additionalProperties: false, default: {} },
    ),
    resources: T.Object(
      {
        mode: T.Union([Mode], { default: "default" }),
        cpu_threshold: T.Optional(Percent),
        gpu_threshold: T.Optional(Percent),
        memory_threshold: T.Optional(Percent),
        adaptive_throttling: T.Boolean({ default: true }),
        /** Stop taking jobs and free VRAM while another program computes on the GPU (NVIDIA, via nvidia-smi). */
        yield_to_gpu_apps: T.Boolean({ default: true }),
        /** Stop taking jobs and free VRAM while a full-screen application runs (Linux/X11, Windows). */
        yield_to_fullscreen: T.Boolean({ default: true }),
        /** Seconds the GPU program or full-screen application must be gone before jobs resume. */
        yield_quiet_secs: T.Number({ minimum: 0, maximum: 3600, default: 30 }),
      },
      { additionalProperties: false, default: {} },
    ),
    worker: T.Object(
      {
        /** Jobs at once on the loaded model: "auto" = from its size, its KV cache and free memory. */
        max_concurrent_jobs: T.Union([T.Literal("auto"), T.Integer({ minimum: 1, maximum: 256 })], { default: "auto" }),
        reconnect_delay_secs: T.Number({ minimum: 0.1, maximum: 3600, default: 5 }),
        model_cache_gb: T.Number({ minimum: 0.001, maximum: 100_000, default: 50 }),
        context_size: T.Integer({ minimum: 256, maximum: 1_048_576, default: 4096 }),
        /** CPU threads for inference; 0 = from the resource mode (a quarter, half, or all but one core). */
        threads: T.Integer({ minimum: 0, maximum: 1024, default: 0 }),
        backend: T.Union([T.Literal("auto"), T.Literal("cuda"), T.Literal("vulkan"), T.Literal("metal"), T.Literal("cpu")], {
          default: "auto",
        }),
        enable_auto_update: T.Boolean({ default: true }),
        update_channel: T.Union([T.Literal("stable"), T.Literal("beta")], { default: "stable" }),
        /** Seconds a newly installed release has to register with the coordinator before it is rolled back. */
        update_trial_secs: T.Integer({ minimum: 10, maximum: 3600, default: 120 }),
      },
      { additionalProperties: false, default: {} },
    ),
    tray: T.Object(
      {
        /** Desktop notifications when the worker disconnects, rests or resumes. */
        notifications: T.Boolean({ default: true }),
      },
      { additionalProperties: false, default: {} },
    ),
    logging: T.Object(
      {
        level: T.Union([T.Literal("debug"), T.Literal("info"), T.Literal("warn"), T.Literal("error")], { default: "info" }),
        max_log_size_mb: T.Number({ minimum: 0.01, maximum: 10_000, default: 10 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type WorkerConfig = Static<typeof WorkerConfigSchema>;

export class WorkerConfigError extends Error {
  readonly code = "invalid_config";
  override name = "WorkerConfigError";
}

interface SchemaShape {
  anyOf?: SchemaShape[];
  const?: unknown;
  type?: string;
  minimum?: number;
  maximum?: number;
}

function accepted(schema: TSchema | undefined): string {
  if (!schema) return "";
  const s = schema as SchemaShape;
  const flat = s.anyOf?.flatMap((x) => x.anyOf ?? [x]);
  if (flat?.every((x) => x.const !== undefined)) return `one of ${flat.map((x) => x.const).join(", ")}`;
  // a word or a range, e.g. max_concurrent_jobs: "auto" or an integer from 1 to 256
  if (flat) return flat.map((x) => (x.const !== undefined ? JSON.stringify(x.const) : accepted(x as TSchema))).join(" or ");
  if (s.type === "integer" || s.type === "number")
    return `a${s.type === "integer" ? "n integer" : " number"} from ${s.minimum} to ${s.maximum}`;
  if (s.type === "boolean") return "true or false";
  return s.type ? `a ${s.type}` : "";
}

/** Checks a parsed table and fills defaults; the error names the key and what it accepts. */
export function validateConfig(table: unknown, file = "config.toml"): WorkerConfig {
  const value = Value.Default(WorkerConfigSchema, Value.Clone(table ?? {}));
  const first = Value.Errors(WorkerConfigSchema, value).First();
  if (first) {
    const key = first.path.replace(/^\//, "").replace(/\//g, ".");
    if (first.type === 42 || /additional|unexpected/i.test(first.message)) {
      throw new WorkerConfigError(`${file}: unknown key "${key}"`);
    }
    const want = accepted(first.schema) || first.message;
    throw new WorkerConfigError(`${file}: ${key} = ${JSON.stringify(first.value)} is not valid (expected ${want})`);
  }
  return value as WorkerConfig;
}

export function loadWorkerConfig(path: string): WorkerConfig {
  if (!existsSync(path)) return validateConfig({}, path);
  let table: unknown;
  try {
    table = parseToml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new WorkerConfigError(`${path} is not valid TOML: ${(e as Error).message}`);
  }
  return validateConfig(table, path);
}

/** A commented config.toml for a first run. */
export function configTemplate(c: { url: string; apiUrl: string; pin: string; name: string }): string {
  return `# GoGrid worker configuration. Changes apply at the next start (the tray applies them live).

[server]
url = ${JSON.stringify(c.url)}          # the coordinator's worker port
api_url = ${JSON.stringify(c.apiUrl)}   # its API port (enrolment)
pin = ${JSON.stringify(c.pin)}          # SHA-256 of its certificate key, set at enrolment

[client]
name = ${JSON.stringify(c.name)}

[resources]
mode = "default"            # conservative (50% GPU), default (70%), aggressive (95%)
adaptive_throttling = true  # stop taking jobs while the machine is busy
yield_to_gpu_apps = true    # free the GPU while another program computes on it (NVIDIA)
yield_to_fullscreen = true  # free the GPU while a full-screen application (game, video) runs
yield_quiet_secs = 30       # resume once that has been gone this long

[worker]
max_concurrent_jobs = "auto"  # or a number; auto = from the model's size and free memory
reconnect_delay_secs = 5
model_cache_gb = 50
enable_auto_update = true     # signed releases from the coordinator, with rollback if one fails to start
update_channel = "stable"     # or "beta"

[logging]
level = "info"
max_log_size_mb = 10
`;
}

/**
 * Sets one key of config.toml in place, keeping every comment and the rest of the file as it
 * is (smol-toml cannot keep comments, so this edits the text), then writes atomically.
 * The result is validated before it replaces the file.
 */
export function setConfigValue(path: string, section: string, key: string, value: string | number | boolean): void {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const literal = typeof value === "string" ? JSON.stringify(value) : String(value);
  const lines = text.split("\n");
  const header = lines.findIndex((l) => l.trim() === `[${section}]`);
  const keyLine = new RegExp(`^(\\s*${key}\\s*=\\s*)([^#]*?)(\\s*#.*)?$`);
  let done = false;
  if (header >= 0) {
    for (let i = header + 1; i < lines.length && !/^\s*\[/.test(lines[i] as string); i++) {
      const m = keyLine.exec(lines[i] as string);
      if (m) {
        lines[i] = `${m[1]}${literal}${m[3] ?? ""}`;
        done = true;
        break;
      }
    }
    if (!done) lines.splice(header + 1, 0, `${key} = ${literal}`);
  } else {
    if (lines.length && lines[lines.length - 1] !== "") lines.push("");
    lines.push(`[${section}]`, `${key} = ${literal}`, "");
  }
  const next = lines.join("\n");
  validateConfig(parseToml(next), path);
  writeFileAtomic(path, next);
}

/**
 * Writes a file atomically (temporary file, then rename). With `fsync` the data is on disk before the
 * rename, so a crash leaves the old or the new file, never an empty one.
 */
export function writeFileAtomic(
  path: string,
  text: string,
  { mode = 0o600, fsync = false }: { mode?: number; fsync?: boolean } = {},
): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeFileSync(fd, text);
    if (fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
