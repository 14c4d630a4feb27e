// One valid example of every wire message, for tests here and in other packages.
import type { MessageOf, MessageType } from "./registry.ts";

const NODE = "node-7f3c2a";
const JOB = "job_01HZX3K9Q4T8W2V6";
const FENCE = "f-42.3";
const MODEL_SHA = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

/** Valid example messages keyed by `type`; `fixtures.job_chunk` is a `JobChunkMessage`, etc. */
export const fixtures: { readonly [K in MessageType]: MessageOf<K> } = {
  hello: { type: "hello", id: "m1", protocol_version: 1, min_protocol_version: 1, max_protocol_version: 1, worker_version: "0.1.0" },
  auth_challenge: { type: "auth_challenge", nonce: "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=", protocol_version: 1 },
  auth_response: {
    type: "auth_response",
    cert_serial: "5f3a9c01d2",
    signature: "CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW+yBFao+02f4jSG2St9wBJg==",
    algorithm: "ECDSA-P256-SHA256",
  },
  version_mismatch: {
    type: "version_mismatch",
    code: "unsupported_version",
    message: "worker speaks protocol 1–1, coordinator 2–3: update the worker",
    fatal: true,
    min_protocol_version: 2,
    max_protocol_version: 3,
  },
  error: {
    type: "error",
    ts: 1_767_225_600_000,
    code: "invalid_message",
    message: 'invalid heartbeat at /status: must be one of "idle", "busy", "paused", "throttled" (got "asleep")',
    fatal: false,
    in_reply_to: "m17",
    path: "/status",
  },
  register: {
    type: "register",
    client_id: "client-3b9e",
    gpu_info: [{ name: "NVIDIA GeForce RTX 4090", vendor: "nvidia", vram_mb: 24_564, backend: "cuda", driver: "560.35.03" }],
    capabilities: { max_concurrent_jobs: 4, models: ["stories260K", "meta/llama-3.2-1b:q4_k_m"], max_context: 8192 },
    resource_mode: "default",
    version: "0.1.0",
    os: "linux",
    arch: "x64",
  },
  welcome: {
    type: "welcome",
    node_id: NODE,
    heartbeat_interval: 15,
    config: { resource_mode: "conservative", max_concurrent_jobs: 2, pause_when_user_active: true },
  },
  heartbeat: {
    type: "heartbeat",
    ts: 1_767_225_600_000,
    status: "busy",
    stats: {
      cpu_percent: 37.5,
      memory_percent: 61.2,
      gpu_percent: 88,
      vram_used_mb: 6144,
      jobs_running: 1,
      jobs_completed: 1203,
      tokens_generated: 2_481_337,
      throttled_requests: 3,
      uptime_secs: 86_400,
    },
  },
  heartbeat_ack: {
    type: "heartbeat_ack",
    server_time: 1_767_225_600_123,
    earnings: { today: "0.4213", week: "3.1", month: "12.875", total: "112.5", currency: "USD" },
  },
  job_assignment: {
    type: "job_assignment",
    job_id: JOB,
    attempt: 1,
    fence: FENCE,
    model: { id: "stories260K", sha256: MODEL_SHA, url: "https://models.bx.ee/stories260K.gguf", size: 1_185_376 },
    messages: [
      { role: "system", content: "You tell short stories." },
      { role: "user", content: "Once upon a time" },
    ],
    params: { max_tokens: 128, temperature: 0.7, top_k: 40, top_p: 0.95, min_p: 0.05, repeat_penalty: 1.1, seed: 42, stop: ["\n\n"] },
    timeout_secs: 120,
    priority: 50,
  },
  job_accept: { type: "job_accept", job_id: JOB, fence: FENCE },
  job_reject: {
    type: "job_reject",
    job_id: JOB,
    fence: FENCE,
    reason: "insufficient_memory",
    detail: "model needs 6.1 GiB VRAM, 4 GiB free",
  },
  job_chunk: { type: "job_chunk", job_id: JOB, fence: FENCE, seq: 0, text: " there was a little girl" },
  job_result: {
    type: "job_result",
    job_id: JOB,
    fence: FENCE,
    status: "completed",
    finish_reason: "stop",
    usage: { prompt_tokens: 12, completion_tokens: 87 },
    timings: { queue_ms: 3, ttft_ms: 41.7, total_ms: 912.4, tokens_per_sec: 95.4 },
  },
  job_cancel: { type: "job_cancel", job_id: JOB, fence: FENCE, reason: "client_disconnected" },
  config_update: {
    type: "config_update",
    config: { resource_mode: "aggressive" },
    heartbeat_interval: 30,
    model_update: { id: "stories260K", url: "https://models.bx.ee/stories260K.gguf", sha256: MODEL_SHA, size: 1_185_376 },
  },
  command: { type: "command", action: "pause", reason: "maintenance window", duration_secs: 3600 },
  update_available: {
    type: "update_available",
    version: "0.2.0",
    channel: "stable",
    manifest_url: "https://updates.bx.ee/stable/manifest.json",
  },
  update_complete: { type: "update_complete", version: "0.2.0", previous_version: "0.1.0", ok: true },
  cert_renew: {
    type: "cert_renew",
    csr: `-----BEGIN CERTIFICATE REQUEST-----\n${"MIIBDzCBtwIBADAVMRMwEQYDVQQDDAp3".repeat(3)}\n-----END CERTIFICATE REQUEST-----\n`,
  },
  cert_renewed: {
    type: "cert_renewed",
    certificate: `-----BEGIN CERTIFICATE-----\n${"MIIBszCCAVmgAwIBAgIUX".repeat(3)}\n-----END CERTIFICATE-----\n`,
    cert_serial: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    not_after: 1_830_000_000_000,
  },
};

function withoutMessages(assignment: MessageOf<"job_assignment">, prompt: string): MessageOf<"job_assignment"> {
  const { messages: _chat, ...rest } = assignment;
  return { ...rest, prompt };
}

/** Further valid variants that exercise the other branches (prompt instead of messages, failures, …). */
export const variantFixtures = {
  jobAssignmentPrompt: withoutMessages(fixtures.job_assignment, "Once upon a time"),
  /** A job whose output will be compared with another worker's (result verification). */
  jobAssignmentDeterministic: {
    ...withoutMessages(fixtures.job_assignment, "Once upon a time"),
    params: { ...fixtures.job_assignment.params, temperature: 0 },
    deterministic: true,
  },
  jobResultFailed: {
    type: "job_result",
    job_id: JOB,
    fence: FENCE,
    status: "failed",
    finish_reason: null,
    usage: { prompt_tokens: 12, completion_tokens: 0 },
    timings: { ttft_ms: null, total_ms: 5.2, tokens_per_sec: 0 },
    error: { code: "out_of_memory", message: "could not allocate a 8192-token context in 4 GiB of VRAM" },
  } satisfies MessageOf<"job_result">,
  jobResultCancelled: {
    type: "job_result",
    job_id: JOB,
    fence: FENCE,
    status: "cancelled",
    finish_reason: "cancelled",
    text: " there was",
    usage: { prompt_tokens: 12, completion_tokens: 3 },
    timings: { ttft_ms: 40, total_ms: 80, tokens_per_sec: 37.5 },
  } satisfies MessageOf<"job_result">,
  authResponsePem: {
    type: "auth_response",
    cert_chain_pem: `-----BEGIN CERTIFICATE-----\n${"MIIBszCCAVmgAwIBAgIUX".repeat(3)}\n-----END CERTIFICATE-----\n`,
    signature: fixtures.auth_response.signature,
    algorithm: "ECDSA-P256-SHA256",
  } satisfies MessageOf<"auth_response">,
  updateFailed: {
    type: "update_complete",
    version: "0.2.0",
    previous_version: "0.1.0",
    ok: false,
    error: { code: "signature_invalid", message: "manifest signature does not match the pinned release key" },
  } satisfies MessageOf<"update_complete">,
  commandResume: { type: "command", action: "resume" } satisfies MessageOf<"command">,
} as const;
