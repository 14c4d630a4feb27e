// The compiled worker runs on a machine with nothing installed: llama.cpp comes out of the binary.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { publicKeyOf } from "../protocol/src/release/index.ts";
import { checkCudaDir, OWN_CUDA_VARIANT, rootKeysFrom, type Target, variantsFor } from "./build.ts";
import { keygen } from "./release/keys.ts";

// compiles a 130 MB binary
setDefaultTimeout(180_000);

const root = join(import.meta.dir, "..");
const MODEL = join(root, "..", "shared", "models", "stories260K.gguf");
const home = mkdtempSync(join(tmpdir(), "gogrid-empty-home-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const host = process.platform === "linux" && process.arch === "x64" ? "bun-linux-x64" : null;

async function runBinary(bin: string, extra: string[] = []) {
  // a bare environment: no bun, no node_modules, an empty HOME
  const proc = Bun.spawn([bin, "generate", "-m", MODEL, "-p", "Once upon a time", "-n", "5", "-t", "0", ...extra], {
    cwd: home,
    env: { HOME: home, PATH: "/usr/bin:/bin" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { stdout, stderr, code: await proc.exited };
}

describe("bun run build", () => {
  test.if(host !== null)("the linux-x64 binary generates from an empty HOME, extracting llama.cpp once", async () => {
    const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--target", host as string, "--gpu"], { cwd: root, stderr: "pipe" });
    expect(build.exitCode).toBe(0);
    const bin = join(root, "dist", "bin", host as string, "gogrid-worker");

    const first = await runBinary(bin);
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe(", there was a little");
    expect(first.code).toBe(0);

    const cache = join(home, ".cache", "gogrid");
    const [folder, ...others] = readdirSync(cache).filter((d) => d.startsWith("native-3.21.1-"));
    expect(others).toEqual([]);
    const lib = join(cache, folder as string, "linux-x64", "libllama.v0.4.0.so");
    const extractedAt = statSync(lib).mtimeMs;

    // second start: nothing rewritten
    expect((await runBinary(bin)).stdout).toBe(", there was a little");
    expect(statSync(lib).mtimeMs).toBe(extractedAt);

    // a damaged extracted library is noticed by its hash and replaced
    writeFileSync(lib, "not a library");
    const repaired = await runBinary(bin);
    expect(repaired.stdout).toBe(", there was a little");
    expect(statSync(lib).size).toBeGreaterThan(1_000_000);
  });

  test.if(host !== null)(
    "the GPU binary probes its embedded Vulkan build in a child, says why it is not used here, and runs on the CPU",
    async () => {
      const bin = join(root, "dist", "bin", host as string, "gogrid-worker-gpu");
      const r = await runBinary(bin, ["--log-level", "info", "--stats"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(", there was a little");
      expect(r.stderr).toContain("linux-x64-vulkan (vulkan) not used");
      expect(r.stderr).toContain("backend embedded:linux-x64");
    },
  );
});

if (host === null)
  console.log(`build.test.ts: the compiled-binary test runs on linux-x64 only (this is ${process.platform}-${process.arch})`);

describe("--update-root-key", () => {
  test("a secret .key file embeds its public key, never the secret; hex and .pub are taken as they are; bad values are named", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gogrid-root-key-"));
    try {
      await keygen(join(dir, "root"));
      const secret = (await Bun.file(join(dir, "root.key")).text()).trim();
      const pub = await publicKeyOf(secret);
      expect(await rootKeysFrom([join(dir, "root.key")])).toEqual([pub]);
      expect(await rootKeysFrom([join(dir, "root.pub"), pub])).toEqual([pub, pub]);
      writeFileSync(join(dir, "bad.pub"), "not a key\n");
      await expect(rootKeysFrom([join(dir, "bad.pub")])).rejects.toThrow(/bad\.pub is not a public key/);
      await expect(rootKeysFrom([join(dir, "missing.pub")])).rejects.toThrow(/cannot read the public key file .*missing\.pub/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("GoGrid's own CUDA build (--cuda-dir)", () => {
  const linux: Target = { bun: "bun-linux-x64", platform: "linux", arch: "x64", exe: "gogrid-worker" };
  const cuda = mkdtempSync(join(tmpdir(), "gogrid-own-cuda-"));
  afterAll(() => rmSync(cuda, { recursive: true, force: true }));

  test("a folder without libggml-cuda, or without libllama, is refused by name", () => {
    expect(checkCudaDir(join(cuda, "missing"))).toContain("is not a folder");
    expect(checkCudaDir(cuda)).toContain("no libllama/libggml");
    writeFileSync(join(cuda, "libllama.so"), "");
    writeFileSync(join(cuda, "libggml.so"), "");
    expect(checkCudaDir(cuda)).toContain("no libggml-cuda");
    writeFileSync(join(cuda, "libggml-cuda.so"), "");
    expect(checkCudaDir(cuda)).toBeNull();
  });

  test("it is probed first in linux-x64's GPU binary, then Vulkan, then CPU; not in the CPU binary", () => {
    if (!host) {
      console.warn("skipped: the prebuilt packages of linux-x64 are installed only on linux-x64");
      return;
    }
    expect(variantsFor(linux, "gpu", cuda)?.map((v) => [v.spec.name, v.spec.backend])).toEqual([
      [OWN_CUDA_VARIANT, "cuda"],
      ["linux-x64-vulkan", "vulkan"],
      ["linux-x64", "cpu"],
    ]);
    expect(variantsFor(linux, "gpu", cuda)?.[0]?.dir).toBe(cuda);
    expect(variantsFor(linux, "cpu", cuda)?.map((v) => v.spec.name)).toEqual(["linux-x64"]);
    expect(variantsFor(linux, "gpu")?.map((v) => v.spec.name)).toEqual(["linux-x64-vulkan", "linux-x64"]);
  });
});
