// `bun run bench:sizes`: sizes of the compiled binaries (dist/bin) and installers (dist/installers).
//
// Measures what is there. When dist/bin has no binary at all it builds the host worker with
// `bun scripts/build.ts` (unless --no-build); every expected file that is missing is listed as not
// measured. Last stdout line: one JSON object.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseFlags } from "./flags.ts";
import { finish, progress, round, table } from "./report.ts";

const ROOT = resolve(import.meta.dir, "..");
const TARGETS = ["bun-linux-x64", "bun-linux-arm64", "bun-windows-x64", "bun-darwin-arm64", "bun-darwin-x64"];
const BINARIES = ["gogrid-worker", "gogrid-tray", "gogrid-admin"];
const INSTALLER_KINDS = [".deb", ".rpm", ".tar.gz", ".exe", ".dmg"];

export interface SizedFile {
  path: string;
  bytes: number;
  mib: number;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    const st = statSync(p);
    return st.isDirectory() ? (name.startsWith(".") ? [] : walk(p)) : [p];
  });
}

function sized(dist: string, files: string[]): SizedFile[] {
  return files
    .map((p) => {
      const bytes = statSync(p).size;
      return { path: relative(dist, p), bytes, mib: round(bytes / 2 ** 20, 2) as number };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

export function measureSizes(o: { dist: string; build: boolean; log: (line: string) => void }): Record<string, unknown> {
  const binDir = join(o.dist, "bin");
  let built: string | null = null;
  if (walk(binDir).length === 0 && o.build) {
    o.log("dist/bin is empty: building the host worker with bun scripts/build.ts (the other targets and installers are not built)");
    const p = Bun.spawnSync(["bun", join(ROOT, "scripts", "build.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    built =
      p.exitCode === 0 ? "host worker (bun scripts/build.ts)" : `build failed (${p.exitCode}): ${p.stderr.toString().trim().slice(-300)}`;
  }
  const binaries = sized(o.dist, walk(binDir));
  const installers = sized(o.dist, walk(join(o.dist, "installers")));
  const missing: string[] = [];
  for (const t of TARGETS) {
    for (const b of BINARIES) {
      const exe = t.includes("windows") ? `${b}.exe` : b;
      if (!binaries.some((f) => f.path === join("bin", t, exe))) missing.push(join("bin", t, exe));
    }
  }
  for (const k of INSTALLER_KINDS) if (!installers.some((f) => f.path.endsWith(k))) missing.push(`installers/*${k}`);
  return {
    dist: o.dist,
    built,
    binaries,
    installers,
    binaries_total_mib: round(binaries.reduce((s, f) => s + f.bytes, 0) / 2 ** 20, 2),
    installers_total_mib: round(installers.reduce((s, f) => s + f.bytes, 0) / 2 ** 20, 2),
    not_measured: missing,
  };
}

export function sizesTable(r: Record<string, unknown>): string {
  const files = [...(r.binaries as SizedFile[]), ...(r.installers as SizedFile[])];
  const rows = files.map((f) => [f.path, f.mib, f.bytes]);
  const missing = r.not_measured as string[];
  const note = missing.length ? `\nnot measured (not in ${r.dist}): ${missing.join(", ")}` : "";
  return `${rows.length ? table(["file", "MiB", "bytes"], rows) : "no binaries or installers found"}${note}`;
}

if (import.meta.main) {
  const FLAGS = {
    dist: { type: "string", default: join(ROOT, "dist"), description: "the folder bun run build / bun run package write to" },
    "no-build": { type: "boolean", default: false, description: "never build; measure only what is there" },
    quick: { type: "boolean", default: false, description: "same as --no-build (measuring is instant; building is not)" },
  } as const;
  const f = parseFlags("bench:sizes", FLAGS, Bun.argv.slice(2));
  const r = measureSizes({ dist: resolve(f.str("dist")), build: !f.bool("no-build") && !f.bool("quick"), log: progress("sizes") });
  finish(`bench:sizes — ${r.dist}${r.built ? ` (built: ${r.built})` : ""}\n\n${sizesTable(r)}\n`, r);
}
