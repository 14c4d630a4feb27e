// gogrid-admin's result-verification commands (issue 9): canaries, audits, releasing quarantined workers.
import type { Command } from "commander";
import { AUDIT_STATUSES } from "../db/enums.ts";
import type { AuditStatus, CanaryRow, Repository, TrustPolicy } from "../db/repository.ts";
import { AdminError } from "./actions.ts";
import { iso, type Out, positiveInt, table } from "./format.ts";

type WithRepo = <T>(fn: (repo: Repository) => Promise<T>) => Promise<T>;

const CLASS = /^[a-z0-9]+(\+[a-z0-9]+)*\/[a-z0-9_]+$/;

export interface CanaryInput {
  model: string;
  prompt: string;
  expected: string;
  maxTokens: number;
  workerClass?: string;
}

/** Registers a canary for an existing model; refuses empty texts and malformed classes. */
export async function addCanary(repo: Repository, input: CanaryInput, now = Date.now()): Promise<CanaryRow> {
  if (!(await repo.getModel(input.model))) throw new AdminError(`no model with id ${input.model} (gogrid-admin models list)`);
  if (input.prompt.length === 0) throw new AdminError("--prompt must not be empty");
  if (input.expected.length === 0) throw new AdminError("--expected must not be empty: it is the answer a worker must give");
  if (input.workerClass !== undefined && !CLASS.test(input.workerClass))
    throw new AdminError(`--worker-class "${input.workerClass}": write it as <backend>/<arch>, e.g. cuda/x64, metal/arm64, cpu/x64`);
  const row: CanaryRow = {
    id: crypto.randomUUID(),
    model: input.model,
    prompt: input.prompt,
    expected: input.expected,
    maxTokens: input.maxTokens,
    workerClass: input.workerClass ?? null,
    createdAt: now,
  };
  await repo.addCanary(row);
  return row;
}

export async function releaseWorker(repo: Repository, nodeId: string, policy: TrustPolicy): Promise<void> {
  const w = await repo.getWorker(nodeId);
  if (!w) throw new AdminError(`no worker with node id ${nodeId}`);
  if (w.quarantinedAt === null) throw new AdminError(`worker ${nodeId} is not quarantined`);
  await repo.releaseWorker(nodeId, policy);
}

const short = (text: string, n = 40) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** Adds `canaries`, `audits` and `workers release` to the program. */
export function addAuditCommands(program: Command, workers: Command, withRepo: WithRepo, out: Out, policy: () => TrustPolicy): void {
  workers
    .command("release <node-id>")
    .description("lift a quarantine: the worker gets jobs and credit again, its trust starts afresh")
    .action((nodeId: string) =>
      withRepo(async (repo) => {
        await releaseWorker(repo, nodeId, policy());
        out(`released ${nodeId}: it gets jobs again at its next scheduling pass`);
      }),
    );

  const canaries = program.command("canaries").description("known-answer prompts sent to workers as ordinary-looking jobs");
  canaries
    .command("add")
    .description("register a prompt and the answer the model gives it (gogrid-worker generate ... --temperature 0 prints it)")
    .requiredOption("--model <id>", "the model it is for")
    .requiredOption("--prompt <text>", "the prompt (a raw completion)")
    .requiredOption("--expected <text>", "the exact continuation a correct worker produces")
    .option("--max-tokens <n>", "tokens to generate (as when the answer was made)", positiveInt("--max-tokens"), 64)
    .option("--worker-class <backend/arch>", "only for workers of this class, e.g. cuda/x64 (the answer's backend)")
    .action((o: { model: string; prompt: string; expected: string; maxTokens: number; workerClass?: string }) =>
      withRepo(async (repo) => {
        const c = await addCanary(repo, {
          model: o.model,
          prompt: o.prompt,
          expected: o.expected,
          maxTokens: o.maxTokens,
          ...(o.workerClass ? { workerClass: o.workerClass } : {}),
        });
        out(`added canary ${c.id} for ${c.model}${c.workerClass ? ` (${c.workerClass} workers)` : ""}`);
      }),
    );
  canaries
    .command("list")
    .option("--model <id>", "one model's")
    .action((o: { model?: string }) =>
      withRepo(async (repo) =>
        table(
          (await repo.listCanaries(o.model)).map((c) => ({
            id: c.id,
            model: c.model,
            class: c.workerClass ?? "any",
            max_tokens: c.maxTokens,
            prompt: short(c.prompt),
            expected: short(c.expected),
          })),
          out,
        ),
      ),
    );
  canaries.command("remove <id>").action((id: string) =>
    withRepo(async (repo) => {
      if (!(await repo.removeCanary(id))) throw new AdminError(`no canary with id ${id}`);
      out(`removed canary ${id}`);
    }),
  );

  program
    .command("audits")
    .description("result checks: audit re-runs and canaries, newest first")
    .option("--worker <node-id>", "checks that involved this worker")
    .option("--status <list>", `comma-separated: ${AUDIT_STATUSES.join(",")}`)
    .option("--limit <n>", "most rows", positiveInt("--limit"), 50)
    .action((o: { worker?: string; status?: string; limit: number }) =>
      withRepo(async (repo) => {
        const status = o.status?.split(",").map((s) => s.trim()) as AuditStatus[] | undefined;
        const bad = status?.find((s) => !AUDIT_STATUSES.includes(s));
        if (bad) throw new AdminError(`invalid status "${bad}": one of ${AUDIT_STATUSES.join(", ")}`);
        const rows = await repo.listAudits({
          ...(o.worker ? { workerId: o.worker } : {}),
          ...(status ? { status } : {}),
          limit: o.limit,
        });
        table(
          rows.map((a) => ({
            job: a.id,
            kind: a.kind,
            status: a.status,
            worker: a.subjectWorker,
            auditor: a.auditWorker,
            third: a.tiebreakWorker,
            culprit: a.culprit,
            at: iso(a.createdAt),
            detail: a.detail,
          })),
          out,
        );
      }),
    );
}
