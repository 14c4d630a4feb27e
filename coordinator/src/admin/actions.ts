// What gogrid-admin does, as functions over the repository (the CLI only parses and prints).
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { newApiKey } from "../api/auth.ts";
import { JOB_STATUSES } from "../db/enums.ts";
import type { JobRow, JobStatus, PriceRow, Repository } from "../db/repository.ts";
import { earningsSummary } from "../earnings/ledger.ts";
import { AmountError, CURRENCY, formatAmount, parseAmount } from "../earnings/pricing.ts";
import { newEnrolmentToken } from "../enrolment/index.ts";

export class AdminError extends Error {
  override name = "AdminError";
}

/** "90s", "15m", "24h", "7d" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new AdminError(`invalid duration "${text}": use a number and s, m, h or d (e.g. 24h)`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

export async function createToken(repo: Repository, opts: { ttlMs: number; label?: string; owner?: string }, now = Date.now()) {
  const t = newEnrolmentToken();
  await repo.createEnrolmentToken({
    tokenHash: t.hash,
    label: opts.label ?? null,
    ownerId: opts.owner ?? null,
    createdAt: now,
    expiresAt: now + opts.ttlMs,
  });
  return { token: t.secret, expiresAt: new Date(now + opts.ttlMs).toISOString() };
}

export async function createKey(repo: Repository, name: string) {
  const k = newApiKey(name);
  await repo.createApiKey(k.row);
  return { id: k.row.id, key: k.secret };
}

export async function revokeKey(repo: Repository, id: string): Promise<void> {
  if (!(await repo.revokeApiKey(id, Date.now()))) throw new AdminError(`no API key with id ${id}`);
}

export async function revokeWorker(repo: Repository, nodeId: string, reason: string): Promise<string[]> {
  if (!(await repo.getWorker(nodeId))) throw new AdminError(`no worker with node id ${nodeId}`);
  return repo.revokeWorker(nodeId, reason, Date.now());
}

const SHA256 = /^[0-9a-f]{64}$/;
const MODEL_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function checkModelId(id: string): void {
  if (!MODEL_ID.test(id)) throw new AdminError(`invalid model id "${id}": letters, digits and . _ : - only`);
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

/** Adds a model from a local GGUF (hashed here) or a URL (sha256 and size given). */
export async function addModel(repo: Repository, id: string, opts: { path?: string; url?: string; sha256?: string; size?: number }) {
  checkModelId(id);
  if (Boolean(opts.path) === Boolean(opts.url)) throw new AdminError("give exactly one of --path or --url");
  let source: string;
  let sha256: string;
  let size: number;
  if (opts.path) {
    source = resolve(opts.path);
    if (!existsSync(source) || !statSync(source).isFile()) throw new AdminError(`--path ${opts.path}: no such file`);
    size = statSync(source).size;
    sha256 = await fileSha256(source);
    if (opts.sha256 && opts.sha256.toLowerCase() !== sha256)
      throw new AdminError(`--sha256 does not match ${opts.path} (its sha256 is ${sha256})`);
  } else {
    source = opts.url as string;
    if (!/^https?:\/\//.test(source)) throw new AdminError(`--url ${source}: must be http:// or https://`);
    if (!opts.sha256 || !SHA256.test(opts.sha256.toLowerCase()))
      throw new AdminError("--sha256 <64 hex digits> is required with --url (workers verify downloads against it)");
    if (!opts.size || opts.size < 1) throw new AdminError("--size <bytes> is required with --url");
    sha256 = opts.sha256.toLowerCase();
    size = opts.size;
  }
  await repo.upsertModel({ id, source, sha256, sizeBytes: size, contextLength: null, createdAt: Date.now() });
  return { id, source, sha256, size };
}

export async function removeModel(repo: Repository, id: string): Promise<void> {
  if (!(await repo.removeModel(id))) throw new AdminError(`no model with id ${id}`);
}

export function parseStatuses(text: string | undefined): JobStatus[] | undefined {
  if (!text) return undefined;
  const list = text.split(",").map((s) => s.trim()) as JobStatus[];
  const bad = list.find((s) => !JOB_STATUSES.includes(s));
  if (bad) throw new AdminError(`invalid status "${bad}": one of ${JOB_STATUSES.join(", ")}`);
  return list;
}

export async function cancelJob(repo: Repository, id: string): Promise<JobRow> {
  const job = await repo.cancelJob(id, Date.now());
  if (!job) throw new AdminError(`job ${id} does not exist or has already finished`);
  return job;
}

/** An amount option ("0.002") → micro-units, or an AdminError naming the option. */
function parseAmountOption(option: string, text: string): number {
  try {
    return parseAmount(text);
  } catch (e) {
    if (e instanceof AmountError) throw new AdminError(`${option}: ${e.message}`);
    throw e;
  }
}

/** Sets a model's price: `per1k` per 1000 generated tokens, `promptPer1k` (default "0") per 1000 prompt tokens. */
export async function setPrice(repo: Repository, model: string, opts: { per1k: string; promptPer1k?: string }): Promise<PriceRow> {
  checkModelId(model);
  const row: PriceRow = {
    modelId: model,
    completionMicrosPer1k: parseAmountOption("--per-1k", opts.per1k),
    promptMicrosPer1k: parseAmountOption("--prompt-per-1k", opts.promptPer1k ?? "0"),
  };
  await repo.setPrice(row);
  return row;
}

/** A price as the CLI shows it: decimal amounts per 1000 tokens. */
export function describePrice(p: PriceRow) {
  return {
    model: p.modelId,
    per_1k: formatAmount(p.completionMicrosPer1k),
    prompt_per_1k: formatAmount(p.promptMicrosPer1k),
    currency: CURRENCY,
  };
}

/** "--tz-offset" minutes east of UTC ("60", "-300", "+330"); the host's current offset when absent. */
export function parseTzOffset(text: string | undefined, now = Date.now()): number {
  if (text === undefined) return -new Date(now).getTimezoneOffset() || 0;
  const m = /^[+-]?\d{1,4}$/.exec(text.trim());
  const minutes = m ? Number(text.trim()) : Number.NaN;
  if (!Number.isInteger(minutes) || Math.abs(minutes) > 1_440)
    throw new AdminError(
      `--tz-offset: invalid offset "${text}": whole minutes east of UTC within ±1440 (e.g. 60 for UTC+1, -300 for UTC-5)`,
    );
  return minutes;
}

/** "+01:00" / "-05:00" for an offset in minutes. */
export function formatTzOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** Earnings of one node, one owner, or (neither) the whole network, in a time zone. */
export async function earnings(repo: Repository, opts: { node?: string; owner?: string; tzOffset?: string }, now = Date.now()) {
  const tz = parseTzOffset(opts.tzOffset, now);
  if (opts.node !== undefined && !(await repo.getWorker(opts.node))) throw new AdminError(`no worker with node id ${opts.node}`);
  const filter = {
    ...(opts.node !== undefined ? { nodeId: opts.node } : {}),
    ...(opts.owner !== undefined ? { ownerId: opts.owner } : {}),
  };
  return { tzOffsetMinutes: tz, ...(await earningsSummary(repo, filter, tz, now)) };
}
