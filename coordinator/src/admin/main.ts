#!/usr/bin/env bun
// gogrid-admin: enrolment tokens, API keys, workers, jobs, models, prices, earnings and canaries, straight in the database.
import { Command } from "commander";
import { trustPolicy } from "../audit/model.ts";
import { ConfigError, loadConfig } from "../config/load.ts";
import { type Config, SETTINGS } from "../config/settings.ts";
import { DashboardAuthError, setDashboardPassword } from "../dashboard/index.ts";
import { openRepository } from "../db/open.ts";
import type { Repository, TrustPolicy } from "../db/repository.ts";
import * as act from "./actions.ts";
import { addAuditCommands } from "./audit-commands.ts";
import { iso, type Out, positiveInt, table } from "./format.ts";

export function buildAdmin(
  withRepo: <T>(fn: (repo: Repository) => Promise<T>) => Promise<T>,
  out: Out,
  dataDir: () => string,
  readSecret: (prompt: string) => Promise<string>,
  policy: () => TrustPolicy = () => trustPolicy(SETTINGS.auditTrustPrior.default, SETTINGS.auditTrustThreshold.default),
): Command {
  const program = new Command()
    .name("gogrid-admin")
    .description("Administer a GoGrid coordinator's database (run on the coordinator host)")
    .option("--data-dir <dir>", "the coordinator's data folder")
    .option("--database-url <url>", "the coordinator's database (default: from its config)")
    .option("-c, --config <file>", "the coordinator's TOML file");

  const tokens = program.command("tokens").description("enrolment tokens for new workers");
  tokens
    .command("create")
    .description("make a single-use enrolment token (printed once)")
    .option("--ttl <duration>", "lifetime, e.g. 24h or 7d", "24h")
    .option("--label <text>", "a note for the list")
    .option("--owner <id>", "the contributor the worker's earnings go to")
    .action((o: { ttl: string; label?: string; owner?: string }) =>
      withRepo(async (repo) => {
        const t = await act.createToken(repo, {
          ttlMs: act.parseDuration(o.ttl),
          ...(o.label ? { label: o.label } : {}),
          ...(o.owner ? { owner: o.owner } : {}),
        });
        out(t.token);
        out(`expires ${t.expiresAt}; give it to the worker: gogrid-worker enroll --token ${t.token}`);
      }),
    );
  tokens.command("list").action(() =>
    withRepo(async (repo) =>
      table(
        (await repo.listEnrolmentTokens()).map((t) => ({
          label: t.label,
          owner: t.ownerId,
          created: iso(t.createdAt),
          expires: iso(t.expiresAt),
          used: iso(t.usedAt),
          node: t.usedByNodeId,
        })),
        out,
      ),
    ),
  );

  const keys = program.command("keys").description("API keys for clients");
  keys
    .command("create")
    .requiredOption("--name <name>", "who the key is for")
    .action((o: { name: string }) =>
      withRepo(async (repo) => {
        const k = await act.createKey(repo, o.name);
        out(k.key);
        out(`id ${k.id}; shown once: store it now`);
      }),
    );
  keys.command("list").action(() =>
    withRepo(async (repo) =>
      table(
        (await repo.listApiKeys()).map((k) => ({
          id: k.id,
          name: k.name,
          created: iso(k.createdAt),
          revoked: iso(k.revokedAt),
          prompt_tokens: k.promptTokens,
          completion_tokens: k.completionTokens,
        })),
        out,
      ),
    ),
  );
  keys.command("revoke <id>").action((id: string) => withRepo(async (repo) => act.revokeKey(repo, id).then(() => out(`revoked ${id}`))));

  const workers = program.command("workers").description("enrolled workers");
  workers.command("list").action(() =>
    withRepo(async (repo) =>
      table(
        (await repo.listWorkers()).map((w) => ({
          node: w.nodeId,
          name: w.name,
          status: w.revokedAt ? "revoked" : w.quarantinedAt !== null ? `quarantined (${w.status})` : w.status,
          trust: w.trust.toFixed(2),
          checks: `${w.auditMatches} ok / ${w.auditMismatches} bad`,
          heartbeat: iso(w.lastHeartbeatAt),
          quarantined: iso(w.quarantinedAt),
          owner: w.ownerId,
        })),
        out,
      ),
    ),
  );
  workers
    .command("revoke <node-id>")
    .option("--reason <text>", "why (kept with the certificates)", "revoked by operator")
    .action((nodeId: string, o: { reason: string }) =>
      withRepo(async (repo) => {
        const serials = await act.revokeWorker(repo, nodeId, o.reason);
        out(`revoked ${nodeId} (${serials.length} certificate${serials.length === 1 ? "" : "s"}); its connection is closed within seconds`);
      }),
    );

  const jobs = program.command("jobs").description("the job queue");
  addAuditCommands(program, workers, withRepo, out, policy);
  jobs
    .command("list")
    .option("--status <list>", "comma-separated: queued,running,completed,failed,cancelled,dead")
    .option("--limit <n>", "most rows", positiveInt("--limit"), 50)
    .action((o: { status?: string; limit: number }) =>
      withRepo(async (repo) => {
        const status = act.parseStatuses(o.status);
        const rows = await repo.listJobs({ ...(status ? { status } : {}), limit: o.limit });
        table(
          rows.map((j) => ({
            id: j.id,
            model: j.model,
            status: j.status,
            purpose: j.purpose,
            attempts: j.attempts,
            worker: j.workerId,
            created: iso(j.createdAt),
            tokens: j.completionTokens,
          })),
          out,
        );
      }),
    );
  jobs.command("show <id>").action((id: string) =>
    withRepo(async (repo) => {
      const job = await repo.getJob(id);
      if (!job) throw new act.AdminError(`no job with id ${id}`);
      out(JSON.stringify({ ...job, attempts_detail: await repo.listAttempts(id) }, null, 2));
    }),
  );
  jobs
    .command("cancel <id>")
    .action((id: string) => withRepo(async (repo) => act.cancelJob(repo, id).then((j) => out(`cancelled ${j.id}`))));

  const models = program.command("models").description("the model registry");
  models
    .command("add <id>")
    .option("--path <file>", "a GGUF on this host (hashed now)")
    .option("--url <url>", "where workers download it")
    .option("--sha256 <hex>", "expected SHA-256 (required with --url)")
    .option("--size <bytes>", "file size (required with --url)", positiveInt("--size"))
    .action((id: string, o: { path?: string; url?: string; sha256?: string; size?: number }) =>
      withRepo(async (repo) => {
        const m = await act.addModel(repo, id, o);
        out(`added ${m.id}: ${m.source} (${m.size} bytes, sha256 ${m.sha256})`);
      }),
    );
  models.command("list").action(() =>
    withRepo(async (repo) =>
      table(
        (await repo.listModels()).map((m) => ({ id: m.id, size: m.sizeBytes, sha256: `${m.sha256.slice(0, 12)}…`, source: m.source })),
        out,
      ),
    ),
  );
  models
    .command("remove <id>")
    .action((id: string) => withRepo(async (repo) => act.removeModel(repo, id).then(() => out(`removed ${id}`))));

  const prices = program.command("prices").description("what contributors earn per model (amounts in USD, e.g. 0.002)");
  prices
    .command("set <model>")
    .description("set the model's price per 1000 tokens")
    .requiredOption("--per-1k <amount>", "paid per 1000 generated tokens")
    .option("--prompt-per-1k <amount>", "paid per 1000 prompt tokens", "0")
    .action((model: string, o: { per1k: string; promptPer1k: string }) =>
      withRepo(async (repo) => {
        const p = act.describePrice(await act.setPrice(repo, model, { per1k: o.per1k, promptPer1k: o.promptPer1k }));
        out(`price of ${p.model}: ${p.per_1k} ${p.currency} per 1000 generated tokens, ${p.prompt_per_1k} per 1000 prompt tokens`);
      }),
    );
  prices.command("list").action(() => withRepo(async (repo) => table((await repo.listPrices()).map(act.describePrice), out)));

  program
    .command("earnings")
    .description("credited earnings today, this week (from Monday), this month and in total")
    .option("--node <id>", "one worker's earnings")
    .option("--owner <id>", "one contributor's earnings (all their workers)")
    .option("--tz-offset <minutes>", "time zone of the periods, minutes east of UTC (default: this host's)")
    .action((o: { node?: string; owner?: string; tzOffset?: string }) =>
      withRepo(async (repo) => {
        const e = await act.earnings(repo, o);
        const who = [o.node ? `node ${o.node}` : "", o.owner ? `owner ${o.owner}` : ""].filter(Boolean).join(", ") || "all workers";
        out(`earnings of ${who} in ${e.currency}, periods in UTC${act.formatTzOffset(e.tzOffsetMinutes)}`);
        for (const period of ["today", "week", "month", "total"] as const) out(`${period.padEnd(6)} ${e[period]}`);
      }),
    );

  program
    .command("dashboard-password")
    .description("set the dashboard's admin password (read from the terminal without echo, or from standard input)")
    .action(async () => {
      const password = await readSecret("new dashboard password: ");
      await setDashboardPassword(dataDir(), password);
      out(`dashboard password set (hashed in ${dataDir()}/dashboard.json); it works at the next sign-in`);
    });
  return program;
}

/** A secret from the terminal (no echo) or, when piped, the first line of standard input. */
export async function readSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const text = await new Response(Bun.stdin.stream()).text();
    return text.split(/\r?\n/)[0] ?? "";
  }
  process.stderr.write(prompt);
  process.stdin.setRawMode(true);
  let secret = "";
  try {
    for await (const chunk of process.stdin) {
      for (const ch of String(chunk)) {
        if (ch === "\r" || ch === "\n") return secret;
        if (ch === "\u0003") throw new act.AdminError("cancelled");
        if (ch === "\u007f") secret = secret.slice(0, -1);
        else secret += ch;
      }
    }
    return secret;
  } finally {
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stderr.write("\n");
  }
}

export async function runAdmin(
  argv: string[],
  out: Out = (l) => console.log(l),
  err: Out = (l) => console.error(l),
  secret: (prompt: string) => Promise<string> = readSecret,
): Promise<number> {
  let code = 0;
  let program: Command | null = null;
  // loaded at the first use (after the global options are parsed), then kept for this run
  let loaded: Config | undefined;
  const config = (): Config => {
    if (loaded) return loaded;
    const g = (program as Command).opts<{ dataDir?: string; databaseUrl?: string; config?: string }>();
    loaded = loadConfig({
      flags: { ...(g.dataDir ? { dataDir: g.dataDir } : {}), ...(g.databaseUrl ? { databaseUrl: g.databaseUrl } : {}) },
      ...(g.config ? { configFile: g.config } : {}),
    });
    return loaded;
  };
  const withRepo = async <T>(fn: (repo: Repository) => Promise<T>): Promise<T | undefined> => {
    const cfg = config();
    const repo = await openRepository(cfg.databaseUrl || `${cfg.dataDir}/gogrid.db`, { dataDir: cfg.dataDir });
    try {
      return await fn(repo);
    } finally {
      await repo.close();
    }
  };
  program = buildAdmin(
    withRepo as <T>(fn: (repo: Repository) => Promise<T>) => Promise<T>,
    out,
    () => config().dataDir,
    secret,
    () => trustPolicy(config().auditTrustPrior, config().auditTrustThreshold),
  );
  // Subcommands copy these settings only when created, so each one is set here (else a usage
  // error in a subcommand would exit the process instead of returning 2).
  const configure = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.configureOutput({ writeOut: (s) => out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const c = (e as { code?: string; exitCode?: number }).code;
    if (c === "commander.helpDisplayed" || c === "commander.version" || c === "commander.help") return 0;
    if (c?.startsWith("commander.")) return 2;
    if (e instanceof act.AdminError || e instanceof ConfigError || e instanceof DashboardAuthError) {
      err(`gogrid-admin: ${e.message}`);
      return 2;
    }
    err(`gogrid-admin: ${(e as Error).message}`);
    code = 1;
  }
  return code;
}

if (import.meta.main) process.exit(await runAdmin(process.argv));
