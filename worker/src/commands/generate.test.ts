// `gogrid-worker generate` as a user runs it: a child process, stdout and stderr apart.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";

// loads models and spawns processes: a minute each on a busy 2-core machine
setDefaultTimeout(180_000);

const SHARED = join(import.meta.dir, "..", "..", "..", "..", "shared");
const MODEL = join(SHARED, "models", "stories260K.gguf");
const MAIN = join(import.meta.dir, "..", "main.ts");

interface Ref {
  cases: { prompt: string; steps: number; expected: string }[];
}

async function run(args: string[], stdin?: string) {
  const proc = Bun.spawn([process.execPath, MAIN, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    env: { ...process.env, GOGRID_BACKEND: "cpu" },
  });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { stdout, stderr, code: await proc.exited };
}

describe("gogrid-worker generate", () => {
  test("prints exactly the greedy continuation of the reference cases on stdout", async () => {
    const ref = (await Bun.file(join(SHARED, "reference", "stories260K-greedy.json")).json()) as Ref;
    for (const c of ref.cases) {
      const r = await run([
        "generate",
        "--model",
        MODEL,
        "--prompt",
        c.prompt,
        "--max-tokens",
        String(c.steps + 40),
        "--temperature",
        "0",
        "--threads",
        "1",
      ]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect((c.prompt + r.stdout).slice(0, c.expected.length)).toBe(c.expected);
    }
  });

  test("statistics and logs go to stderr, never stdout", async () => {
    const r = await run(["generate", "-m", MODEL, "-p", "Once upon a time", "-n", "5", "-t", "0", "--stats", "--log-level", "warn"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(", there was a little");
    expect(r.stderr).toContain("5 generated");
    expect(r.stderr).toContain("bad special token"); // llama.cpp's warning, routed to stderr
  });

  test("reads the prompt from standard input", async () => {
    const r = await run(["generate", "-m", MODEL, "-f", "-", "-n", "5", "-t", "0"], "Once upon a time");
    expect(r.stdout).toBe(", there was a little");
  });

  test("a bad flag value is named, with exit status 2", async () => {
    const r = await run(["generate", "-m", MODEL, "-p", "x", "--max-tokens", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('--max-tokens must be an integer from 1 to ∞, got "lots"');
    const t = await run(["generate", "-m", MODEL, "-p", "x", "--temperature", "-3"]);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('got "-3"');
  });

  test("a missing prompt or model file is said plainly", async () => {
    const noPrompt = await run(["generate", "-m", MODEL]);
    expect(noPrompt.code).toBe(2);
    expect(noPrompt.stderr).toContain("a prompt is required");
    const noModel = await run(["generate", "-m", "/no/such/model.gguf", "-p", "x"]);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr).toContain("/no/such/model.gguf: model file not found");
    expect(noModel.stderr).toContain("[model_not_found]");
  });

  test("--help describes every option", async () => {
    const r = await run(["generate", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--model", "--prompt", "--max-tokens", "--temperature", "--seed", "--stop", "--backend"]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
