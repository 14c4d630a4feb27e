// Real workers against a real coordinator: enrolment errors, server pause/resume, a worker killed mid-job.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { estimateModelMemory } from "@gogrid/native";
import OpenAI from "openai";
import { addModel, apiKey, enrolmentToken, SHARED_MODEL, start, until } from "../../coordinator/test/harness.ts";
import { loadWorkerConfig, validateConfig } from "./config.ts";
import { controlRequest } from "./control.ts";
import { WorkerDaemon } from "./daemon.ts";
import { EnrolmentError, enrol } from "./identity.ts";
import { Logger } from "./log.ts";
import { workerPaths } from "./paths.ts";
import { autoConcurrency, YieldWatcher } from "./resources/index.ts";

setDefaultTimeout(120_000);

let c: Awaited<ReturnType<typeof start>>;
let client: OpenAI;
const homes: string[] = [];
const daemons: WorkerDaemon[] = [];

beforeAll(async () => {
  c = await start({ heartbeatSecs: 1 });
  await addModel(c.repo);
  client = new OpenAI({ baseURL: `${c.apiUrl}/v1`, apiKey: await apiKey(c.repo), maxRetries: 0 });
});
afterAll(async () => {
  for (const d of daemons) await d.stop();
  await c.cleanup();
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function home(): string {
  const h = mkdtempSync(join(tmpdir(), "gogrid-worker-"));
  homes.push(h);
  return h;
}

type Extra = Pick<ConstructorParameters<typeof WorkerDaemon>[0], "renewWithinMs" | "control" | "resources">;

async function daemon(extra: Extra = {}): Promise<WorkerDaemon> {
  const paths = workerPaths({ GOGRID_HOME: home() });
  const config = validateConfig({
    server: { api_url: c.apiUrl },
    worker: { context_size: 2048, reconnect_delay_secs: 0.2, backend: "cpu" },
    resources: { adaptive_throttling: false },
  });
  const d = new WorkerDaemon({
    config,
    paths,
    logger: new Logger(process.env.GOGRID_TEST_LOG === "1" ? "debug" : "error", null, 1 << 20, process.env.GOGRID_TEST_LOG === "1"),
    token: await enrolmentToken(c.repo),
    control: false,
    ...extra,
  });
  await d.start();
  daemons.push(d);
  await until(() => d.linkState === "connected", 10_000, "worker connected");
  return d;
}

describe("enrolment", () => {
  test("an unknown or used token is refused with the coordinator's reason", async () => {
    const err = await enrol(join(home(), "id"), c.apiUrl, "ggenrol-nope", "x").catch((e) => e);
    expect(err).toBeInstanceOf(EnrolmentError);
    expect(err.code).toBe("token_unknown");
    const token = await enrolmentToken(c.repo);
    await enrol(join(home(), "id"), c.apiUrl, token, "x");
    const again = await enrol(join(home(), "id"), c.apiUrl, token, "x").catch((e) => e);
    expect(again.code).toBe("token_used");
    expect(again.message).toContain("already been used");
  });

  test("an unreachable coordinator is said plainly", async () => {
    const err = await enrol(join(home(), "id"), "http://127.0.0.1:1", "ggenrol-x", "x").catch((e) => e);
    expect(err.code).toBe("unreachable");
  });
});

describe("a real worker", () => {
  test("is paused and resumed by the coordinator; paused, it gets no jobs", async () => {
    const d = await daemon();
    await c.pushToWorkers(d.identity.nodeId, { type: "command", action: "pause", reason: "maintenance" });
    await until(async () => (await c.repo.getWorker(d.identity.nodeId))?.status === "paused", 5000, "paused in the database");
    expect(d.status()).toBe("paused");
    const pending = client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
    await Bun.sleep(500);
    expect(d.runner.stats.jobsCompleted).toBe(0);
    await c.pushToWorkers(d.identity.nodeId, { type: "command", action: "resume" });
    const r = await pending;
    expect(r.choices[0]?.text).toBe(", there was a little");
    expect(d.runner.stats.jobsCompleted).toBe(1);
    expect(d.runner.stats.peakMemoryMb).toBeGreaterThan(10);
    await d.stop();
  });

  test("registers its GPUs (or none) and prefetches a model on model_update", async () => {
    const d = await daemon();
    const row = await c.repo.getWorker(d.identity.nodeId);
    const info = row?.info as { gpu_info: unknown[]; capabilities: { models: string[] } };
    expect(info.gpu_info).toEqual(d.gpus);
    expect(info.capabilities.models).toEqual([]);
    const model = (await c.repo.getModel("stories260K")) as { sha256: string; sizeBytes: number };
    const url = `${c.workerUrl.replace("wss://", "https://")}/models/${model.sha256}`;
    await c.pushToWorkers(d.identity.nodeId, {
      type: "config_update",
      config: {},
      model_update: { id: "stories260K", url, sha256: model.sha256, size: model.sizeBytes },
    });
    const cached = join(d.paths.modelsDir, `${model.sha256}.gguf`);
    await until(() => Bun.file(cached).size === model.sizeBytes, 10_000, "prefetched model");
    await d.stop();
  });

  test("renews its certificate before it expires, and connects with the new one", async () => {
    // a window longer than the certificate's life: renew at once
    const d = await daemon({ renewWithinMs: 2 * 365 * 86_400_000 });
    await until(() => d.renewals > 0, 10_000, "renewed certificate");
    const onDisk = await Bun.file(join(d.paths.identityDir, "client.crt")).text();
    expect(onDisk).toBe(d.identity.certPem);
    expect((await c.repo.getCertificate(d.identity.serial))?.nodeId).toBe(d.identity.nodeId);
    d.link.stop();
    d.link.start();
    await until(() => d.linkState === "connected", 10_000, "reconnected with the renewed certificate");
    await d.stop();
  });

  test("the control API (what the tray calls): status, pause/resume, and a mode saved to config.toml and applied at once", async () => {
    const d = await daemon({ control: true });
    const sock = d.paths.controlEndpoint;
    const status = (await controlRequest(sock, "GET", "/status")) as { state: string; status: string; mode: string };
    expect(status).toMatchObject({ state: "connected", status: "idle", mode: "default" });
    await controlRequest(sock, "POST", "/pause", { duration_secs: 60 });
    expect(((await controlRequest(sock, "GET", "/status")) as { status: string }).status).toBe("paused");
    await controlRequest(sock, "POST", "/resume");
    await controlRequest(sock, "PUT", "/mode", { mode: "conservative" });
    expect(((await controlRequest(sock, "GET", "/status")) as { mode: string }).mode).toBe("conservative");
    expect(loadWorkerConfig(d.paths.configFile).resources.mode).toBe("conservative");
    await expect(controlRequest(sock, "PUT", "/mode", { mode: "turbo" })).rejects.toThrow(
      /mode must be conservative, default or aggressive/,
    );
    await d.stop();
    await expect(controlRequest(sock, "GET", "/status")).rejects.toThrow(/not running/);
  });

  test("max_concurrent_jobs = auto: register says 1 with nothing known, then the loaded model's figure", async () => {
    // free memory for exactly 3 sequences of 2048 tokens beside the model and the 1 GiB margin
    const est = await estimateModelMemory(SHARED_MODEL);
    const perSeq = est.kvBytesPerToken * 2048;
    const free = 2 ** 30 + est.sizeBytes + 3.5 * perSeq;
    const expected = autoConcurrency({
      kvBytesPerToken: est.kvBytesPerToken,
      contextPerSequence: 2048,
      freeBytes: free,
      modelBytes: est.sizeBytes,
      onGpu: false,
    });
    expect(expected.jobs).toBe(3);
    const d = await daemon({ resources: { freeMemory: () => free } });
    const registered = async () => {
      const info = (await c.repo.getWorker(d.identity.nodeId))?.info as { capabilities?: { max_concurrent_jobs?: number } } | undefined;
      return info?.capabilities?.max_concurrent_jobs;
    };
    expect(await registered()).toBe(1);
    const r = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
    expect(r.choices[0]?.text).toBe(", there was a little");
    expect(d.runner.capacity).toBe(3);
    // idle for 3 s after the load: it registers again with 3
    await until(async () => (await registered()) === 3, 10_000, "registered again with 3");
    await until(() => d.linkState === "connected", 10_000, "reconnected");
    await d.stop();
  });

  test("yields to another program on the GPU: no jobs, model unloaded, throttled with the reason; resumes after the quiet period", async () => {
    let csv = "";
    const yieldWatcher = new YieldWatcher({
      gpuApps: true,
      fullscreen: false,
      quietSecs: 1,
      intervalMs: 100,
      run: async (argv) => (argv[0] === "nvidia-smi" ? { exitCode: 0, stdout: csv } : null),
    });
    const d = await daemon({ control: true, resources: { yieldWatcher } });
    const ask = () => client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
    expect((await ask()).choices[0]?.text).toBe(", there was a little");
    expect(d.runner.modelLoaded).toBe(true);
    csv = `${process.pid}, 300\n`; // our own process: not a reason
    await Bun.sleep(400);
    expect(d.status()).toBe("idle");
    csv = `${process.pid}, 300\n4242, 2048\n`;
    await until(() => d.status() === "throttled", 5000, "throttled");
    await until(() => !d.runner.modelLoaded, 5000, "model unloaded");
    const status = (await controlRequest(d.paths.controlEndpoint, "GET", "/status")) as { status: string; status_reason: string };
    expect(status).toMatchObject({ status: "throttled", status_reason: "another program is using the GPU (pid 4242)" });
    await until(async () => (await c.repo.getWorker(d.identity.nodeId))?.status === "throttled", 5000, "throttled in the database");
    const pending = ask();
    await Bun.sleep(600);
    expect(d.runner.stats.jobsCompleted).toBe(1);
    const goneAt = Date.now();
    csv = `${process.pid}, 300\n`;
    const r = await pending;
    expect(Date.now() - goneAt).toBeGreaterThanOrEqual(1000);
    expect(r.choices[0]?.text).toBe(", there was a little");
    expect(d.runner.stats.jobsCompleted).toBe(2);
    expect(d.runner.modelLoaded).toBe(true); // loaded again for the job
    expect(d.status()).toBe("idle");
    await d.stop();
  });

  test("killed mid-job: the job finishes on the other worker and the client gets one answer", async () => {
    const a = await daemon();
    const b = await daemon();
    const expected = (
      await client.completions.create({ model: "stories260K", prompt: "Tom and Sue went to the beach", max_tokens: 400, temperature: 0 })
    ).choices[0]?.text;
    let text = "";
    const stream = await client.completions.create({
      model: "stories260K",
      prompt: "Tom and Sue went to the beach",
      max_tokens: 400,
      temperature: 0,
      stream: true,
    });
    let killed: WorkerDaemon | null = null;
    let jobId = "";
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (!killed) {
        // the worker holding the job, as the coordinator sees it, is stopped at the first chunk
        jobId = chunk.id.replace(/^cmpl-/, "");
        const holder = (await c.repo.getJob(jobId))?.workerId;
        killed = holder === a.identity.nodeId ? a : b;
        await killed.stop();
      }
    }
    expect(killed).not.toBeNull();
    expect(text).toBe(expected as string);
    const survivor = killed === a ? b : a;
    const job = await c.repo.getJob(jobId);
    expect(job?.status).toBe("completed");
    expect(job?.attempts).toBe(2);
    expect(job?.workerId).toBe(survivor.identity.nodeId);
  });
});
