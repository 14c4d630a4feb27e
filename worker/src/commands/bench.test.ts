// `gogrid-worker bench`: a table, then one JSON line with the measured figures.
import { expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";

setDefaultTimeout(120_000);

const MODEL = join(import.meta.dir, "..", "..", "..", "..", "shared", "models", "stories260K.gguf");

test("bench measures aggregate tokens/s for each number of streams", async () => {
  const proc = Bun.spawn(
    [process.execPath, join(import.meta.dir, "..", "main.ts"), "bench", "-m", MODEL, "-n", "16", "--streams", "1,2", "--threads", "1"],
    {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, GOGRID_BACKEND: "cpu" },
    },
  );
  const out = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  const last = JSON.parse(out.trim().split("\n").at(-1) as string) as { results: { streams: number; tokens_per_second: number }[] };
  expect(last.results.map((r) => r.streams)).toEqual([1, 2]);
  for (const r of last.results) expect(r.tokens_per_second).toBeGreaterThan(0);
  expect(out).toContain("aggregate tok/s");
});

test("bench names a bad --streams value", async () => {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "main.ts"), "bench", "-m", MODEL, "--streams", "1,x"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const err = await new Response(proc.stderr).text();
  expect(await proc.exited).toBe(2);
  expect(err).toContain('--streams must be an integer from 1 to 256, got "x"');
});
