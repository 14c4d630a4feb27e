// Builds the configuration: defaults < TOML file < environment < flags; errors name the bad value.
import { existsSync, readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { type Config, envName, flagName, SETTINGS, type SettingName, type SettingSpec } from "./settings.ts";

export class ConfigError extends Error {
  readonly code = "invalid_config";
  override name = "ConfigError";
}

type Source = { kind: "file"; path: string } | { kind: "env"; name: string } | { kind: "flag"; name: string };

function where(src: Source): string {
  if (src.kind === "file") return `in ${src.path}`;
  if (src.kind === "env") return `in ${src.name}`;
  return `for ${src.name}`;
}

function describe(spec: SettingSpec): string {
  if (spec.type === "int") return `an integer from ${spec.min ?? "-∞"} to ${spec.max ?? "∞"}`;
  if (spec.type === "number") return `a number from ${spec.min ?? "-∞"} to ${spec.max ?? "∞"}`;
  if (spec.type === "bool") return "true or false";
  if (spec.type === "list") return "a list of strings";
  if (spec.choices) return `one of ${spec.choices.join(", ")}`;
  return "a string";
}

/** Converts a raw value (TOML value or a string from env/flags) to the setting's type. */
function coerce(spec: SettingSpec, raw: unknown, src: Source): string | number | boolean | string[] {
  const bad = () => new ConfigError(`${spec.key} ${where(src)}: ${JSON.stringify(raw)} is not valid (expected ${describe(spec)})`);
  switch (spec.type) {
    case "int": {
      const n =
        typeof raw === "string" ? (/^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN) : typeof raw === "bigint" ? Number(raw) : raw;
      if (typeof n !== "number" || !Number.isSafeInteger(n)) throw bad();
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) throw bad();
      return n;
    }
    case "number": {
      const n = typeof raw === "string" ? (/^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(raw.trim()) ? Number(raw) : Number.NaN) : raw;
      if (typeof n !== "number" || !Number.isFinite(n)) throw bad();
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) throw bad();
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (typeof raw === "string" && /^(true|1|yes|on)$/i.test(raw)) return true;
      if (typeof raw === "string" && /^(false|0|no|off)$/i.test(raw)) return false;
      throw bad();
    }
    case "list": {
      if (typeof raw === "string")
        return raw
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw as string[];
      throw bad();
    }
    default: {
      if (typeof raw !== "string") throw bad();
      if (spec.choices && !spec.choices.includes(raw)) throw bad();
      return raw;
    }
  }
}

function lookup(table: Record<string, unknown>, key: string): unknown {
  let cur: unknown = table;
  for (const part of key.split(".")) {
    if (typeof cur !== "object" || cur === null || !(part in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Keys in the file that no setting declares: probably typos, so refuse them. */
function unknownKeys(table: Record<string, unknown>, prefix = ""): string[] {
  const known = new Set(Object.values(SETTINGS).map((s) => s.key));
  const out: string[] = [];
  for (const [k, v] of Object.entries(table)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (known.has(key)) continue;
    if (typeof v === "object" && v !== null && !Array.isArray(v) && [...known].some((x) => x.startsWith(`${key}.`))) {
      out.push(...unknownKeys(v as Record<string, unknown>, key));
    } else out.push(key);
  }
  return out;
}

export interface LoadOptions {
  /** Parsed flags by setting name (strings as typed), e.g. { apiPort: "9000" }. */
  flags?: Partial<Record<SettingName, string>>;
  env?: Record<string, string | undefined>;
  /** A TOML file; when absent, <data_dir>/coordinator.toml is read if it exists. */
  configFile?: string;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const config = Object.fromEntries(Object.entries(SETTINGS).map(([name, spec]) => [name, spec.default])) as Config;

  const dataDirFromEarly = flags.dataDir ?? env[envName(SETTINGS.dataDir)] ?? SETTINGS.dataDir.default;
  const file = options.configFile ?? env.GOGRID_CONFIG ?? `${dataDirFromEarly}/coordinator.toml`;
  if (options.configFile !== undefined && !existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
  if (existsSync(file)) {
    let table: Record<string, unknown>;
    try {
      table = parseToml(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${file} is not valid TOML: ${(e as Error).message}`);
    }
    const unknown = unknownKeys(table);
    if (unknown.length > 0)
      throw new ConfigError(`${file}: unknown setting ${unknown.map((k) => `"${k}"`).join(", ")} (see --help for the list)`);
    for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
      const raw = lookup(table, spec.key);
      if (raw !== undefined) (config as Record<string, unknown>)[name] = coerce(spec, raw, { kind: "file", path: file });
    }
  }
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    const raw = env[envName(spec)];
    if (raw !== undefined && raw !== "")
      (config as Record<string, unknown>)[name] = coerce(spec, raw, { kind: "env", name: envName(spec) });
  }
  for (const [name, raw] of Object.entries(flags) as [SettingName, string | undefined][]) {
    const spec = SETTINGS[name] as SettingSpec | undefined;
    if (!spec || raw === undefined) continue;
    (config as Record<string, unknown>)[name] = coerce(spec, raw, { kind: "flag", name: flagName(spec) });
  }
  if (config.databaseUrl && !/^(postgres(ql)?:\/\/|sqlite:|:memory:$|[./\\]|[A-Za-z]:)/.test(config.databaseUrl)) {
    throw new ConfigError(`database.url: "${config.databaseUrl}" is neither postgres://… nor a SQLite file path`);
  }
  return config;
}

/** The settings table for --help and the docs, generated from the declarations. */
export function settingsHelp(): string {
  const rows = Object.values(SETTINGS).map((spec: SettingSpec) => {
    const def = Array.isArray(spec.default) ? spec.default.join(",") : String(spec.default);
    return `  ${flagName(spec)} <${spec.type === "list" ? "a,b" : spec.type}>\n      ${spec.description}${def ? ` (default: ${def})` : ""}\n      env ${envName(spec)}, TOML ${spec.key}`;
  });
  return rows.join("\n");
}
