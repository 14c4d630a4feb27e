// Finds the llama.cpp shared libraries: env override → platform packages → embedded copies.
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { LibraryNotFoundError } from "./errors.ts";

export const LLAMA_PACKAGE_VERSION = "3.21.1";

export type BackendKind = "cuda" | "vulkan" | "metal" | "cpu";

/** One directory of llama.cpp libraries built for one backend. */
export interface LibraryVariant {
  /** Package-style name, e.g. "linux-x64-vulkan", or "override" / "embedded:<name>". */
  name: string;
  backend: BackendKind;
  dir: string;
  llamaPath: string;
  ggmlPath: string;
}

interface VariantSpec {
  name: string;
  backend: BackendKind;
  /**
   * An overlay package: its `bins/<base>/fallback/` files replace those of the `base` package
   * (the CUDA "ext" package carries a libggml-cuda built for more GPU architectures).
   */
  overlayOf?: string;
}

/** Prebuilt packages per platform, most capable first (the probe order). */
export function platformVariants(platform = process.platform, arch = process.arch): VariantSpec[] {
  const key = `${platform}-${arch}`;
  switch (key) {
    case "linux-x64":
      return [
        { name: "linux-x64-cuda", backend: "cuda" },
        { name: "linux-x64-cuda-ext", backend: "cuda", overlayOf: "linux-x64-cuda" },
        { name: "linux-x64-vulkan", backend: "vulkan" },
        { name: "linux-x64", backend: "cpu" },
      ];
    case "linux-arm64":
      return [{ name: "linux-arm64", backend: "cpu" }];
    case "darwin-arm64":
      return [{ name: "mac-arm64-metal", backend: "metal" }];
    case "darwin-x64":
      return [{ name: "mac-x64", backend: "cpu" }];
    case "win32-x64":
      return [
        { name: "win-x64-cuda", backend: "cuda" },
        { name: "win-x64-cuda-ext", backend: "cuda", overlayOf: "win-x64-cuda" },
        { name: "win-x64-vulkan", backend: "vulkan" },
        { name: "win-x64", backend: "cpu" },
      ];
    case "win32-arm64":
      return [{ name: "win-arm64", backend: "cpu" }];
    default:
      return [];
  }
}

const LLAMA_FILE = /^(lib)?llama\.([\w.]+\.)?(so|dylib|dll)$/;
const GGML_FILE = /^(lib)?ggml\.([\w.]+\.)?(so|dylib|dll)$/;

/** The main libllama/libggml files in a directory, or null when it holds no llama.cpp build. */
export function libraryFiles(dir: string): { llamaPath: string; ggmlPath: string } | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const llama = names.find((n) => LLAMA_FILE.test(n));
  const ggml = names.find((n) => GGML_FILE.test(n));
  if (!llama || !ggml) return null;
  return { llamaPath: join(dir, llama), ggmlPath: join(dir, ggml) };
}

function guessBackend(dir: string): BackendKind {
  const names = readdirSync(dir).join(" ");
  if (/ggml-cuda/.test(names)) return "cuda";
  if (/ggml-vulkan/.test(names)) return "vulkan";
  if (/ggml-metal|metal/.test(names)) return "metal";
  return "cpu";
}

function packageDir(name: string, from: string): string | null {
  try {
    return dirname(Bun.resolveSync(`@node-llama-cpp/${name}/package.json`, from));
  } catch {
    return null;
  }
}

/** A folder of links: every file of `baseDir`, with those of `overlayDir` in their place. */
function overlayFolder(name: string, baseDir: string, overlayDir: string): string | null {
  const target = join(cacheRoot(), `${name}-${LLAMA_PACKAGE_VERSION}`);
  try {
    mkdirSync(target, { recursive: true });
    const overlay = new Set(readdirSync(overlayDir));
    for (const f of readdirSync(baseDir)) {
      const link = join(target, f);
      const src = overlay.has(f) ? join(overlayDir, f) : join(baseDir, f);
      try {
        if (readlinkSync(link) === src) continue;
        unlinkSync(link);
      } catch {}
      symlinkSync(src, link);
    }
    return target;
  } catch {
    return null;
  }
}

function fromPackage(spec: VariantSpec, from: string): LibraryVariant | null {
  const pkg = packageDir(spec.name, from);
  if (!pkg) return null;
  let dir = join(pkg, "bins", spec.name);
  if (spec.overlayOf) {
    const base = packageDir(spec.overlayOf, from);
    const overlayDir = join(pkg, "bins", spec.overlayOf, "fallback");
    if (!base || !existsSync(overlayDir)) return null;
    const combined = overlayFolder(spec.name, join(base, "bins", spec.overlayOf), overlayDir);
    if (!combined) return null;
    dir = combined;
  }
  const files = libraryFiles(dir);
  return files ? { name: spec.name, backend: spec.backend, dir, ...files } : null;
}

/** An asset compiled into the binary (`import x from "..." with { type: "file" }`). */
export interface EmbeddedAsset {
  /** Relative path under the extraction folder, e.g. "linux-x64/libllama.v0.4.0.so". */
  name: string;
  /** Where Bun exposes the embedded bytes ($bunfs path inside a compiled binary). */
  path: string;
  /** Hex SHA-256 of the content, computed at build time. */
  sha256: string;
}

let embedded: { variants: VariantSpec[]; assets: EmbeddedAsset[] } | null = null;

/** Called by a compiled binary's generated entry point before anything loads llama.cpp. */
export function registerEmbeddedLibraries(variants: VariantSpec[], assets: EmbeddedAsset[]): void {
  embedded = { variants, assets };
}

export function cacheRoot(): string {
  if (process.env.GOGRID_CACHE_DIR) return process.env.GOGRID_CACHE_DIR;
  const home = homedir();
  if (process.platform === "darwin") return join(home, "Library", "Caches", "GoGrid");
  if (process.platform === "win32") return join(process.env.LOCALAPPDATA ?? join(home, "AppData", "Local"), "GoGrid", "cache");
  return join(process.env.XDG_CACHE_HOME ?? join(home, ".cache"), "gogrid");
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * Writes embedded assets to `<cache>/native-<version>-<hash>/`, once: a file already there with
 * the right hash is kept, a missing or altered one is rewritten atomically.
 * Returns the extraction folder.
 */
export function extractAssets(assets: EmbeddedAsset[], root = cacheRoot()): string {
  const setHash = createHash("sha256")
    .update(assets.map((a) => `${a.name}:${a.sha256}`).join("\n"))
    .digest("hex")
    .slice(0, 16);
  const target = join(root, `native-${LLAMA_PACKAGE_VERSION}-${setHash}`);
  for (const asset of assets) {
    const out = join(target, asset.name);
    if (existsSync(out) && sha256File(out) === asset.sha256) continue;
    mkdirSync(dirname(out), { recursive: true });
    const bytes = readFileSync(asset.path);
    const got = createHash("sha256").update(bytes).digest("hex");
    if (got !== asset.sha256) {
      throw new LibraryNotFoundError(`embedded ${asset.name} is damaged (sha256 ${got}, expected ${asset.sha256}): reinstall GoGrid`);
    }
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o755 });
    renameSync(tmp, out);
  }
  return target;
}

/**
 * Every usable library variant for this machine, most capable first.
 * `GOGRID_LLAMA_LIB_DIR` replaces the list with that one directory.
 */
export function findLibraryVariants(env = process.env, from = import.meta.dir): LibraryVariant[] {
  const override = env.GOGRID_LLAMA_LIB_DIR;
  if (override) {
    const files = existsSync(override) && statSync(override).isDirectory() ? libraryFiles(override) : null;
    if (!files) {
      throw new LibraryNotFoundError(
        `GOGRID_LLAMA_LIB_DIR=${override} holds no llama.cpp build (expected libllama*.so|dylib|dll and libggml*.so|dylib|dll)`,
      );
    }
    return [{ name: "override", backend: guessBackend(override), dir: override, ...files }];
  }
  const found = platformVariants()
    .map((spec) => fromPackage(spec, from))
    .filter((v): v is LibraryVariant => v !== null);
  if (found.length > 0) return found;
  if (embedded) {
    const root = extractAssets(embedded.assets);
    const variants: LibraryVariant[] = [];
    for (const spec of embedded.variants) {
      const dir = join(root, spec.name);
      const files = libraryFiles(dir);
      if (files) variants.push({ name: `embedded:${spec.name}`, backend: spec.backend, dir, ...files });
    }
    if (variants.length > 0) return variants;
  }
  throw new LibraryNotFoundError(
    `no llama.cpp library for ${process.platform}-${process.arch}: install the @node-llama-cpp/${platformVariants()[0]?.name ?? "<platform>"}@${LLAMA_PACKAGE_VERSION} package (bun install), or set GOGRID_LLAMA_LIB_DIR to a folder with libllama and libggml`,
  );
}

/** The llama.cpp header folders the shim compiles against (see scripts/prepare-headers.ts). */
export function findIncludeDirs(env = process.env): string[] {
  const candidates: string[] = [];
  if (env.GOGRID_LLAMA_INCLUDE_DIR) candidates.push(env.GOGRID_LLAMA_INCLUDE_DIR);
  candidates.push(join(import.meta.dir, "..", "vendor", "llama-headers"));
  if (embedded?.assets.some((a) => a.name.startsWith("headers/"))) candidates.push(join(extractAssets(embedded.assets), "headers"));
  for (const root of candidates) {
    const dirs = [join(root, "include"), join(root, "ggml", "include")];
    if (existsSync(join(dirs[0] as string, "llama.h")) && existsSync(join(dirs[1] as string, "ggml.h"))) return dirs;
  }
  throw new LibraryNotFoundError(
    `llama.cpp headers not found (looked in ${candidates.join(", ")}): run \`bun run prepare:headers\` or set GOGRID_LLAMA_INCLUDE_DIR`,
  );
}
