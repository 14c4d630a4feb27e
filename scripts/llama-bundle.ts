// Where node-llama-cpp keeps the llama.cpp release our prebuilt libraries come from (a git bundle):
// the headers (prepare-headers.ts) and GoGrid's own CUDA build (build-cuda.ts) are taken from it.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** node-llama-cpp's llama/gitRelease.bundle, or null when the dev dependency is not installed. */
export function findBundle(from = resolve(import.meta.dir, "..")): string | null {
  try {
    const pkg = Bun.resolveSync("node-llama-cpp/package.json", from);
    const bundle = join(dirname(pkg), "llama", "gitRelease.bundle");
    return existsSync(bundle) ? bundle : null;
  } catch {
    return null;
  }
}
