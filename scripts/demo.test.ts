// `bun run demo` end to end: coordinator + real worker over mTLS + llama.cpp, driven by the openai client.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";

setDefaultTimeout(120_000);

const root = join(import.meta.dir, "..");
const SHARED = join(root, "..", "shared");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Demo {
  env: Record<string, string>;
  stderr: () => string;
  stop(): Promise<number>;
}

async function startDemo(args: string[]): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), "gogrid-demo-"));
  dirs.push(dir);
  const proc = Bun.spawn([process.execPath, "scripts/demo.ts", "--api-port", "0", "--worker-port", "0", "--data-dir", dir, ...args], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, GOGRID_BACKEND: "cpu" },
  });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`demo exited before it was ready: ${err}`);
    out += new TextDecoder().decode(value);
  }
  const line = out.split("\n")[0] as string;
  const env = Object.fromEntries(line.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
  return {
    env,
    stderr: () => err,
    async stop() {
      proc.kill("SIGTERM");
      return await proc.exited;
    },
  };
}

interface Ref {
  cases: { prompt: string; steps: number; expected: string }[];
}

describe("bun run demo", () => {
  test("with stories260K: the openai client gets exactly the llama2.c reference continuations, streamed and not", async () => {
    const demo = await startDemo(["--model", join(SHARED, "models", "stories260K.gguf")]);
    try {
      expect(demo.env.GOGRID_API_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(demo.env.GOGRID_MODEL).toBe("stories260K");
      const client = new OpenAI({ baseURL: demo.env.GOGRID_API_URL, apiKey: demo.env.GOGRID_API_KEY as string, maxRetries: 0 });
      expect((await client.models.list()).data.map((m) => m.id)).toEqual(["stories260K"]);
      const ref = (await Bun.file(join(SHARED, "reference", "stories260K-greedy.json")).json()) as Ref;
      for (const c of ref.cases) {
        const max_tokens = c.steps + 40;
        const whole = await client.completions.create({ model: "stories260K", prompt: c.prompt, max_tokens, temperature: 0 });
        expect((c.prompt + whole.choices[0]?.text).slice(0, c.expected.length)).toBe(c.expected);
        let streamed = "";
        for await (const chunk of await client.completions.create({
          model: "stories260K",
          prompt: c.prompt,
          max_tokens,
          temperature: 0,
          stream: true,
        })) {
          streamed += chunk.choices[0]?.text ?? "";
        }
        expect(streamed).toBe(whole.choices[0]?.text as string);
      }
      // the worker's control API answers on the endpoint the demo printed
      const status = (await (await fetch("http://localhost/status", { unix: demo.env.GOGRID_CONTROL } as RequestInit)).json()) as {
        state: string;
        jobs_completed: number;
      };
      expect(status.state).toBe("connected");
      expect(status.jobs_completed).toBe(6);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });

  test("without --model it makes a tiny model offline and says its output is gibberish", async () => {
    const demo = await startDemo([]);
    try {
      expect(demo.stderr()).toContain("gibberish");
      expect(demo.env.GOGRID_MODEL).toBe("tiny-random");
      const client = new OpenAI({ baseURL: demo.env.GOGRID_API_URL, apiKey: demo.env.GOGRID_API_KEY as string, maxRetries: 0 });
      const r = await client.completions.create({ model: "tiny-random", prompt: "hello", max_tokens: 8, temperature: 0 });
      expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });
});
