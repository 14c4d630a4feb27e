// Extracts llama.cpp's public headers (include/, ggml/include/) from node-llama-cpp's git bundle.
//
// The shim in native/ is compiled against exactly the release the prebuilt libraries were built
// from. Those headers are upstream's code, so they are never committed: this script writes them
// to native/vendor/llama-headers (git-ignored). It runs on `bun install`, before builds and in CI,
// and does nothing when the extracted copy already matches the bundle's commit.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findBundle } from "./llama-bundle.ts";

const root = resolve(import.meta.dir, "..");
const outDir = join(root, "native", "vendor", "llama-headers");
const stampFile = join(outDir, "COMMIT");

function git(args: string[], cwd?: string): string {
  const r = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    throw new Error(`git ${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString().trim();
}

const bundle = findBundle();
if (!bundle) {
  // node-llama-cpp is a dev dependency; a production install (or a compiled binary's build host
  // that already has the headers) has nothing to do here.
  if (existsSync(stampFile)) process.exit(0);
  console.error(
    "prepare-headers: node-llama-cpp@3.21.1 (dev dependency) is not installed, so the llama.cpp " +
      "headers cannot be extracted. Run `bun install` without --production.",
  );
  process.exit(1);
}

const commit = git(["bundle", "list-heads", bundle]).split(/\s+/)[0] ?? "";
if (existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === commit) {
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), "gogrid-headers-"));
try {
  git(["init", "-q", "--bare", work]);
  git(["fetch", "-q", bundle, "HEAD"], work);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tar = Bun.spawnSync(["git", "archive", "--format=tar", "FETCH_HEAD", "include", "ggml/include"], {
    cwd: work,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (tar.exitCode !== 0) throw new Error(`git archive failed: ${tar.stderr.toString().trim()}`);
  const untar = Bun.spawnSync(["tar", "-x", "-C", outDir], { stdin: tar.stdout, stderr: "pipe" });
  if (untar.exitCode !== 0) throw new Error(`tar failed: ${untar.stderr.toString().trim()}`);
  for (const f of ["include/llama.h", "ggml/include/ggml.h", "ggml/include/ggml-backend.h"]) {
    if (!existsSync(join(outDir, f))) throw new Error(`bundle has no ${f}`);
  }
  writeFileSync(stampFile, `${commit}\n`);
  console.log(`prepare-headers: llama.cpp headers at ${commit.slice(0, 12)} → native/vendor/llama-headers`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
