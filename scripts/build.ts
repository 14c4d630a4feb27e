// `bun run build`: single-file worker binaries with llama.cpp's libraries and headers embedded.
//
// For each target a small entry file is generated that imports every library and header
// `with { type: "file" }` (so `bun build --compile` embeds them), registers them with
// native/src/library.ts (extracted once, hash-checked, to the user's cache folder), and then
// runs the worker's command line. Output: dist/bin/<bun target>/gogrid-worker[.exe].
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { LLAMA_PACKAGE_VERSION, libraryFiles, platformVariants } from "../native/src/library.ts";
import { isSemVer, platformKey } from "../protocol/src/release/index.ts";
import { HELPER_NAMES } from "../tray/src/helper-names.ts";
import { publicKeyFrom } from "./release/keys.ts";

const root = resolve(import.meta.dir, "..");

export interface Target {
  bun: string;
  platform: NodeJS.Platform;
  arch: NodeJS.Architecture;
  exe: string;
}

const TARGETS: Target[] = [
  { bun: "bun-linux-x64", platform: "linux", arch: "x64", exe: "gogrid-worker" },
  { bun: "bun-linux-arm64", platform: "linux", arch: "arm64", exe: "gogrid-worker" },
  { bun: "bun-windows-x64", platform: "win32", arch: "x64", exe: "gogrid-worker.exe" },
  { bun: "bun-darwin-arm64", platform: "darwin", arch: "arm64", exe: "gogrid-worker" },
  { bun: "bun-darwin-x64", platform: "darwin", arch: "x64", exe: "gogrid-worker" },
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/**
 * The prebuilt package's bins folder: installed (this machine's platform), or fetched from the
 * npm registry with `npm pack` (other platforms; npm checks the registry's integrity hash).
 */
function packageBins(name: string): string | null {
  try {
    const pkg = dirname(Bun.resolveSync(`@node-llama-cpp/${name}/package.json`, join(root, "native")));
    return join(pkg, "bins", name);
  } catch {}
  const dir = join(root, "dist", ".build", "packages", `${name}-${LLAMA_PACKAGE_VERSION}`);
  const bins = join(dir, "package", "bins", name);
  if (existsSync(bins)) return bins;
  mkdirSync(dir, { recursive: true });
  const pack = Bun.spawnSync(["npm", "pack", `@node-llama-cpp/${name}@${LLAMA_PACKAGE_VERSION}`, "--pack-destination", dir, "--silent"], {
    stderr: "pipe",
    stdout: "pipe",
  });
  if (pack.exitCode !== 0) return null;
  const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tgz) return null;
  const untar = Bun.spawnSync(["tar", "-xzf", join(dir, tgz), "-C", dir], { stderr: "pipe" });
  return untar.exitCode === 0 && existsSync(bins) ? bins : null;
}

type Flavour = "cpu" | "gpu";

/** Name of GoGrid's own CUDA build (scripts/build-cuda.ts) among a binary's embedded variants. */
export const OWN_CUDA_VARIANT = "linux-x64-cuda-gogrid";

/**
 * Why `dir` cannot be embedded as GoGrid's own CUDA build, or null when it can: it must hold
 * libllama, libggml and a libggml-cuda (scripts/build-cuda.ts --out).
 */
export function checkCudaDir(dir: string): string | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return `${dir} is not a folder`;
  if (!libraryFiles(dir)) return `${dir} holds no libllama/libggml`;
  if (!readdirSync(dir).some((f) => /^libggml-cuda\.(so|dll)$/.test(f)))
    return `${dir} holds no libggml-cuda (build it with scripts/build-cuda.ts)`;
  return null;
}

/**
 * The llama.cpp builds a binary embeds, in probe order. "cpu": the CPU build (Metal on Apple
 * silicon, where it is the same package). "gpu": Vulkan first, then CPU, where a Vulkan build
 * exists (linux-x64, windows-x64). The prebuilt CUDA packages are not embedded (181 MB plus a
 * 357 MB fallback, and their sm_90 code does not run on CUDA 13.0 drivers); `cudaDir`, GoGrid's
 * own CUDA build, goes first in linux-x64's "gpu" binary: it decoded 1.25–1.46× faster than Vulkan
 * on an H200 (bench/gpu/README.md), and where it cannot run (no CUDA 13 runtime, old driver) the
 * probe falls back to Vulkan.
 */
export function variantsFor(t: Target, flavour: Flavour, cudaDir: string | null = null) {
  const all = platformVariants(t.platform, t.arch);
  const cpu = all.find((v) => v.backend === "cpu" || v.backend === "metal");
  const vulkan = all.find((v) => v.backend === "vulkan");
  if (!cpu) throw new Error(`no llama.cpp build is known for ${t.bun}`);
  if (flavour === "gpu" && !vulkan) return null;
  const own =
    cudaDir && flavour === "gpu" && t.platform === "linux" && t.arch === "x64"
      ? [{ spec: { name: OWN_CUDA_VARIANT, backend: "cuda" as const }, dir: cudaDir }]
      : [];
  const prebuilt = (flavour === "gpu" ? [vulkan, cpu] : [cpu]).map((spec) => {
    const s = spec as NonNullable<typeof spec>;
    const dir = packageBins(s.name);
    if (!dir) {
      throw new Error(
        `@node-llama-cpp/${s.name}@${LLAMA_PACKAGE_VERSION} is neither installed nor fetchable from the npm registry, so ${t.bun} cannot be built here`,
      );
    }
    return { spec: { name: s.name, backend: s.backend }, dir };
  });
  return [...own, ...prebuilt];
}

const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

/** Import lines and the registration call for the tray's helper and icons (shared by both binaries). */
function trayAssetLines(t: Target, rel: (p: string) => string): { imports: string[]; register: string } {
  const helper = join(dirname(Bun.resolveSync("systray2/package.json", join(root, "tray"))), "traybin", HELPER_NAMES[t.platform] as string);
  const iconDir = join(root, "tray", "icons");
  const wanted = (f: string) =>
    t.platform === "win32" ? f.endsWith(".ico") : t.platform === "darwin" ? f.endsWith("-32.png") : f.endsWith("-64.png");
  const icons = readdirSync(iconDir).filter(wanted);
  return {
    imports: [
      `import trayHelper from ${rel(helper)} with { type: "file" };`,
      ...icons.map((f, i) => `import icon${i} from ${rel(join(iconDir, f))} with { type: "file" };`),
    ],
    register: `registerTrayAssets({ helper: trayHelper, icons: { ${icons.map((f, i) => `${JSON.stringify(f)}: icon${i}`).join(", ")} } });`,
  };
}

/**
 * The worker binary is also the tray: run as `gogrid-tray` (a link to it) or `gogrid-worker tray`,
 * so a package ships one Bun runtime instead of two.
 */
function entrySource(t: Target, variants: NonNullable<ReturnType<typeof variantsFor>>, outDir: string): string {
  const assets: { name: string; path: string }[] = [];
  for (const { spec, dir } of variants) {
    for (const f of files(dir)) {
      const base = relative(dir, f);
      if (base.endsWith(".node") || base.endsWith(".json")) continue; // node-llama-cpp's addon and metadata
      assets.push({ name: `${spec.name}/${base}`, path: f });
    }
  }
  const headers = join(root, "native", "vendor", "llama-headers");
  for (const f of files(headers)) {
    if (f.endsWith(".h")) assets.push({ name: `headers/${relative(headers, f)}`, path: f });
  }
  const rel = (p: string) => JSON.stringify(relative(outDir, p).split("\\").join("/"));
  const tray = trayAssetLines(t, rel);
  const lines = [
    "// Generated by scripts/build.ts: embeds llama.cpp and the tray into the worker binary.",
    `import { registerEmbeddedLibraries } from ${rel(join(root, "native/src/library.ts"))};`,
    `import { runCli } from ${rel(join(root, "worker/src/main.ts"))};`,
    `import { main as trayMain, registerTrayAssets } from ${rel(join(root, "tray/src/main.ts"))};`,
    'import { basename } from "node:path";',
    ...tray.imports,
    ...assets.map((a, i) => `import a${i} from ${rel(a.path)} with { type: "file" };`),
    `registerEmbeddedLibraries(${JSON.stringify(variants.map((v) => v.spec))}, [`,
    ...assets.map((a, i) => `  { name: ${JSON.stringify(a.name)}, path: a${i}, sha256: ${JSON.stringify(sha256(a.path))} },`),
    "]);",
    'const asTray = basename(process.argv0).replace(/\\.exe$/i, "").startsWith("gogrid-tray");',
    'if (asTray || process.argv[2] === "tray") {',
    `  ${tray.register}`,
    "  if (!asTray) process.argv.splice(2, 1);",
    "  await trayMain();",
    "} else {",
    "  await runCli(process.argv);",
    "}",
    "",
  ];
  return lines.join("\n");
}

/** What a release build fixes at compile time: its version, its platform key, the update root keys. */
interface ReleaseDefines {
  version?: string;
  /** Comma-separated hex Ed25519 public keys; empty = this build cannot self-update. */
  rootKeys: string;
  /** Where binaries go (default dist/bin). */
  outDir: string;
}

let release: ReleaseDefines = { rootKeys: process.env.GOGRID_UPDATE_ROOT_KEYS ?? "", outDir: join(root, "dist", "bin") };

function defines(t: Target, flavour: Flavour): string[] {
  const d: Record<string, string> = {
    "process.env.GOGRID_BUILD_PLATFORM": platformKey(t.platform, t.arch, flavour),
    // always defined, so a compiled worker never takes root keys from its environment
    "process.env.GOGRID_UPDATE_ROOT_KEYS": release.rootKeys,
    ...(release.version ? { "process.env.GOGRID_BUILD_VERSION": release.version } : {}),
  };
  return Object.entries(d).flatMap(([k, v]) => ["--define", `${k}=${JSON.stringify(v)}`]);
}

/** `bun build --compile` of one entry for the target, into `outfile` (its folder made first). */
async function compile(t: Target, entry: string, outfile: string, extra: string[] = [], what = t.bun): Promise<string> {
  mkdirSync(dirname(outfile), { recursive: true });
  const proc = Bun.spawn([process.execPath, "build", "--compile", `--target=${t.bun}`, ...extra, entry, "--outfile", outfile], {
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  });
  if ((await proc.exited) !== 0) throw new Error(`bun build --compile failed for ${what}`);
  return outfile;
}

async function build(t: Target, flavour: Flavour, cudaDir: string | null): Promise<string | null> {
  const variants = variantsFor(t, flavour, cudaDir);
  if (!variants) return null;
  const work = join(root, "dist", ".build", t.bun);
  mkdirSync(work, { recursive: true });
  const entry = join(work, `worker-entry-${flavour}.ts`);
  writeFileSync(entry, entrySource(t, variants, work));
  const outfile = join(release.outDir, t.bun, flavour === "gpu" ? t.exe.replace("gogrid-worker", "gogrid-worker-gpu") : t.exe);
  return await compile(t, entry, outfile, defines(t, flavour));
}

/** gogrid-tray: the tray with systray2's helper for the target and the state icons embedded. */
async function buildTray(t: Target): Promise<string> {
  const work = join(root, "dist", ".build", t.bun);
  mkdirSync(work, { recursive: true });
  const rel = (p: string) => JSON.stringify(relative(work, p).split("\\").join("/"));
  const tray = trayAssetLines(t, rel);
  const entry = join(work, "tray-entry.ts");
  writeFileSync(
    entry,
    [
      "// Generated by scripts/build.ts: the tray alone, with its helper and icons embedded.",
      `import { main, registerTrayAssets } from ${rel(join(root, "tray/src/main.ts"))};`,
      ...tray.imports,
      tray.register,
      "await main();",
      "",
    ].join("\n"),
  );
  const outfile = join(release.outDir, t.bun, t.exe.replace("gogrid-worker", "gogrid-tray"));
  return await compile(t, entry, outfile, [], `the tray on ${t.bun}`);
}

/**
 * The root public keys to embed, from `--update-root-key` values (64 hex characters, a .pub file,
 * or a secret .key file, whose PUBLIC key is embedded: the file's own text is the secret key and
 * must never go into a binary).
 */
export async function rootKeysFrom(args: string[]): Promise<string[]> {
  return Promise.all(args.map((k) => publicKeyFrom(k)));
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: "string", multiple: true },
      all: { type: "boolean" },
      gpu: { type: "boolean" },
      "no-tray": { type: "boolean" },
      version: { type: "string" },
      "update-root-key": { type: "string", multiple: true },
      "out-dir": { type: "string" },
      "cuda-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      `usage: bun scripts/build.ts [--all | --target <bun target>...] [--gpu]\ntargets: ${TARGETS.map((t) => t.bun).join(", ")} (default: this machine's)\n--gpu also builds gogrid-worker-gpu (Vulkan, then CPU) where a Vulkan build exists\n--version <semver> fixes the worker's version (default: worker/package.json)\n--update-root-key <hex, .pub file, or .key file (its public key is embedded)> (repeatable; default $GOGRID_UPDATE_ROOT_KEYS): the root keys the worker trusts for self-update; without one the binaries cannot update themselves\n--out-dir <dir> instead of dist/bin; --no-tray skips the standalone gogrid-tray\n--cuda-dir <dir>: GoGrid's own CUDA build (scripts/build-cuda.ts --out), probed first in linux-x64's gogrid-worker-gpu`,
    );
    process.exit(0);
  }
  const cudaDir = values["cuda-dir"] ? resolve(values["cuda-dir"]) : null;
  const cudaProblem = cudaDir ? checkCudaDir(cudaDir) : null;
  if (cudaProblem) {
    console.error(`--cuda-dir: ${cudaProblem}`);
    process.exit(2);
  }
  if (values.version !== undefined && !isSemVer(values.version)) {
    console.error(`--version "${values.version}" is not a semantic version like 1.2.3`);
    process.exit(2);
  }
  let keys: string[];
  try {
    keys = await rootKeysFrom(values["update-root-key"] ?? []);
  } catch (e) {
    console.error(`--update-root-key: ${(e as Error).message}`);
    process.exit(2);
  }
  release = {
    ...(values.version ? { version: values.version } : {}),
    rootKeys: keys.length > 0 ? keys.join(",") : release.rootKeys,
    outDir: values["out-dir"] ? resolve(values["out-dir"]) : release.outDir,
  };
  if (!release.rootKeys) console.error("note: no update root key given: these binaries cannot update themselves");
  const host = TARGETS.find((t) => t.platform === process.platform && t.arch === process.arch);
  const wanted = values.all ? TARGETS.map((t) => t.bun) : (values.target ?? (host ? [host.bun] : []));
  for (const name of wanted) {
    const t = TARGETS.find((x) => x.bun === name);
    if (!t) {
      console.error(`unknown target "${name}": one of ${TARGETS.map((x) => x.bun).join(", ")}`);
      process.exit(2);
    }
    for (const flavour of values.gpu ? (["cpu", "gpu"] as const) : (["cpu"] as const)) {
      const out = await build(t, flavour, cudaDir);
      if (out) console.log(`${t.bun}: ${relative(root, out)} (${(statSync(out).size / 2 ** 20).toFixed(1)} MiB)`);
    }
    if (values["no-tray"]) continue;
    const tray = await buildTray(t);
    console.log(`${t.bun}: ${relative(root, tray)} (${(statSync(tray).size / 2 ** 20).toFixed(1)} MiB)`);
  }
}
