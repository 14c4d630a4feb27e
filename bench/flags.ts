// Flags of each bench part, declared once (name, type, default, description) for --help and parsing.
import { parseArgs } from "node:util";

export interface Flag {
  type: "string" | "boolean";
  default: string | boolean;
  description: string;
}

export function usage(command: string, flags: Record<string, Flag>): string {
  const lines = Object.entries(flags).map(([name, f]) => {
    const left = `  --${name}${f.type === "string" ? " <value>" : ""}`;
    const def = f.type === "string" && f.default !== "" ? ` (default ${f.default})` : "";
    return `${left.padEnd(26)}${f.description}${def}`;
  });
  return [`usage: bun run ${command} [flags]`, "", ...lines, `  --help${" ".repeat(20)}show this help`].join("\n");
}

export interface Parsed {
  str(name: string): string;
  bool(name: string): boolean;
  /** A number ≥ min (integer unless `real`); otherwise prints the error naming the flag and exits 2. */
  num(name: string, min: number, real?: boolean): number;
  list(name: string, allowed: readonly string[]): string[];
}

/** Parses argv, or prints usage / the error and exits (2 for a bad flag). */
export function parseFlags(command: string, flags: Record<string, Flag>, argv: string[]): Parsed {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...flags, help: { type: "boolean", default: false } } as Record<string, { type: "string" | "boolean" }>,
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${usage(command, flags)}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage(command, flags)}\n`);
    process.exit(0);
  }
  const str = (name: string) => String(values[name] ?? flags[name]?.default ?? "");
  const fail = (message: string): never => {
    process.stderr.write(`${command}: ${message}\n`);
    process.exit(2);
  };
  return {
    str,
    bool: (name) => values[name] === true,
    num(name, min, real = false) {
      const text = str(name);
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n) || n < min || (!real && !Number.isInteger(n))) {
        return fail(`--${name} must be ${real ? "a number" : "an integer"} ≥ ${min}, got "${text}"`);
      }
      return n;
    },
    list(name, allowed) {
      const items = str(name)
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const i of items) if (!allowed.includes(i)) fail(`--${name}: unknown "${i}" (choose from ${allowed.join(", ")})`);
      if (items.length === 0) fail(`--${name} names nothing`);
      return items;
    },
  };
}
