// Writes a random-weight llama GGUF of a preset shape for benchmarks: `bun scripts/make-gguf.ts --help`.
//
// An existing file made from the same spec (recorded in its metadata) is reused unless --force.
// (commander is not resolvable from scripts/, so this uses node:util's parseArgs.)
import { parseArgs } from "node:util";
import { GgufError } from "../native/src/gguf/errors.ts";
import { WRITABLE_TYPES, type WritableTensorType } from "../native/src/gguf/format.ts";
import { metadataString, readGgufHeader } from "../native/src/gguf/reader.ts";
import {
  GGUF_PRESETS,
  type GgufPresetName,
  type LlamaModelSpec,
  llamaParamCount,
  SPEC_METADATA_KEY,
  specJson,
  writeLlamaGguf,
} from "../native/src/gguf/writer.ts";

const OPTIONS = {
  preset: { type: "string", default: "tiny", description: `model shape: ${Object.keys(GGUF_PRESETS).join(" | ")}` },
  type: { type: "string", default: "q8_0", description: `matrix type: ${Object.keys(WRITABLE_TYPES).join(" | ")}` },
  out: { type: "string", description: "output path (default bench-models/<preset>-<type>.gguf)" },
  seed: { type: "string", default: "1", description: "PRNG seed for the weights" },
  name: { type: "string", description: "general.name (default gogrid-<preset>-<type>)" },
  force: { type: "boolean", default: false, description: "rewrite even if a file of the same spec exists" },
  help: { type: "boolean", short: "h", default: false, description: "show this help" },
} as const;

function usage(): string {
  const lines = Object.entries(OPTIONS).map(([k, o]) => {
    const def = "default" in o && o.type === "string" ? ` (default ${o.default})` : "";
    return `  --${k.padEnd(8)} ${o.description}${def}`;
  });
  return ["usage: bun scripts/make-gguf.ts --preset 1b --type q8_0 [--out PATH] [--seed N] [--force]", ...lines].join("\n");
}

function fail(message: string): never {
  console.error(`make-gguf: ${message}`);
  process.exit(2);
}

function human(n: number, prefixes: readonly [string, string, string]): string {
  const steps: [number, string][] = [
    [1e9, prefixes[0]],
    [1e6, prefixes[1]],
    [1e3, prefixes[2]],
  ];
  const [div, prefix] = steps.find(([d]) => n >= d) ?? [1, ""];
  return `${(n / div).toFixed(2)}${prefix}`;
}

/** True when `path` is a complete GGUF written from exactly `spec`. */
async function matchesSpec(path: string, spec: LlamaModelSpec): Promise<boolean> {
  try {
    const info = await readGgufHeader(path);
    return metadataString(info, SPEC_METADATA_KEY) === specJson(spec);
  } catch (e) {
    if (e instanceof GgufError && e.code === "model_not_found") return false;
    if (e instanceof GgufError) {
      console.error(`make-gguf: rewriting ${path}: ${e.message}`);
      return false;
    }
    throw e;
  }
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    values = parseArgs({ options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (e) {
    fail(`${e instanceof Error ? e.message : String(e)}\n${usage()}`);
  }
  if (values.help) {
    console.log(usage());
    return;
  }
  const preset = values.preset;
  if (!Object.hasOwn(GGUF_PRESETS, preset)) fail(`unknown preset "${preset}"\n${usage()}`);
  const type = values.type;
  if (!Object.hasOwn(WRITABLE_TYPES, type)) fail(`unknown type "${type}"\n${usage()}`);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer, got "${values.seed}"`);
  const out = values.out ?? `bench-models/${preset}-${type}.gguf`;
  const spec: LlamaModelSpec = {
    ...GGUF_PRESETS[preset as GgufPresetName],
    name: values.name ?? `gogrid-${preset}-${type}`,
    type: type as WritableTensorType,
    seed,
  };

  const started = performance.now();
  const reused = !values.force && (await matchesSpec(out, spec));
  if (!reused) await writeLlamaGguf(out, spec);
  const seconds = (performance.now() - started) / 1000;
  const size = Bun.file(out).size;
  console.log(`path:    ${out}`);
  console.log(`size:    ${human(size, [" GB", " MB", " kB"])} (${size} bytes)`);
  console.log(`params:  ${human(llamaParamCount(spec), ["B", "M", "K"])} (${llamaParamCount(spec)})`);
  console.log(`seconds: ${seconds.toFixed(2)}${reused ? " (reused the existing file; --force rewrites it)" : ""}`);
}

await main();
