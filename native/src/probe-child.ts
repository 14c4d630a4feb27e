// Entry point of the backend probe's child process: `bun probe-child.ts <library dir>`.
import { runProbeChild } from "./probe.ts";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: probe-child.ts <llama.cpp library folder>");
  process.exit(2);
}
await runProbeChild(dir);
