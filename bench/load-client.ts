// Bench child: a load client for /v1/completions, closed loop (fixed concurrency) or open loop (fixed offered rate).
//
// usage: bun bench/load-client.ts '<json LoadSpec>'
// Prints {"ready":true}; on "go" runs the load and answers one LoadResult line; "quit" exits.
import { serveCommands } from "./child.ts";

export interface LoadSpec {
  api_url: string;
  key: string;
  model: string;
  mode: "closed" | "open";
  /** closed: requests in flight at once; open: the most in flight before sends are skipped. */
  concurrency: number;
  /** open: requests per second this client offers. */
  rate?: number;
  seconds: number;
  /** Tokens each job asks for; the bench worker answers exactly that many "a". */
  max_tokens: number;
  stream: boolean;
}

export interface LoadResult {
  sent: number;
  ok: number;
  /** Answers that came back 200 but with another text than the worker sent. */
  wrong: number;
  errors: number;
  /** Open loop: sends skipped because `concurrency` requests were already in flight. */
  skipped: number;
  first_error: string | null;
  /** Client-observed latency of each ok job, ms (request sent → whole answer read). */
  latencies_ms: number[];
  /** Open loop: how late each send left after its scheduled time, p99 ms (the client's own lag). */
  send_late_p99_ms: number;
  /** Characters of completion text received (one token each). */
  tokens: number;
  seconds: number;
}

const spec = JSON.parse(Bun.argv[2] ?? "{}") as LoadSpec;
const url = `${spec.api_url}/v1/completions`;
const headers = { authorization: `Bearer ${spec.key}`, "content-type": "application/json" };
const body = JSON.stringify({ model: spec.model, prompt: "bench", max_tokens: spec.max_tokens, stream: spec.stream, temperature: 0 });
const expected = "a".repeat(spec.max_tokens);

/** Reads an SSE body and returns the completion text it carried. */
async function readStream(res: Response): Promise<string> {
  let text = "";
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of res.body as ReadableStream<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let end = buf.indexOf("\n\n");
    while (end >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      end = buf.indexOf("\n\n");
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const data = JSON.parse(event.slice(6)) as { choices?: { text?: string }[]; error?: { message: string } };
      if (data.error) throw new Error(`stream error: ${data.error.message}`);
      text += data.choices?.[0]?.text ?? "";
    }
  }
  return text;
}

async function run(): Promise<LoadResult> {
  const r: LoadResult = {
    sent: 0,
    ok: 0,
    wrong: 0,
    errors: 0,
    skipped: 0,
    first_error: null,
    latencies_ms: [],
    send_late_p99_ms: 0,
    tokens: 0,
    seconds: 0,
  };
  let inFlight = 0;
  const one = async () => {
    r.sent++;
    inFlight++;
    const t = performance.now();
    try {
      const res = await fetch(url, { method: "POST", headers, body });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const text = spec.stream ? await readStream(res) : ((await res.json()) as { choices: { text: string }[] }).choices[0]?.text;
      r.latencies_ms.push(Math.round((performance.now() - t) * 1000) / 1000);
      r.tokens += text?.length ?? 0;
      if (text === expected) r.ok++;
      else r.wrong++;
    } catch (e) {
      r.errors++;
      r.first_error ??= e instanceof Error ? e.message : String(e);
    } finally {
      inFlight--;
    }
  };
  const t0 = performance.now();
  const end = t0 + spec.seconds * 1000;
  const pending: Promise<void>[] = [];
  if (spec.mode === "closed") {
    const loop = async () => {
      while (performance.now() < end) await one();
    };
    await Promise.all(Array.from({ length: spec.concurrency }, loop));
  } else {
    const rate = spec.rate ?? 100;
    const late: number[] = [];
    let scheduled = 0;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - t0) * rate) / 1000);
      while (scheduled < due) {
        late.push(performance.now() - (t0 + (scheduled * 1000) / rate));
        scheduled++;
        if (inFlight >= spec.concurrency) r.skipped++;
        else pending.push(one());
      }
      await Bun.sleep(1);
    }
    await Promise.all(pending);
    late.sort((a, b) => a - b);
    r.send_late_p99_ms = Math.round((late[Math.floor(late.length * 0.99)] ?? 0) * 100) / 100;
  }
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}

process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
await serveCommands(async (cmd) => {
  if (cmd === "go") return { ...(await run()) };
  if (cmd === "quit") return "quit";
  throw new Error(`unknown command "${cmd}"`);
});
process.exit(0);
