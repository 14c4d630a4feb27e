// The mTLS matrix: N connection attempts per credential case against a real worker port, counted by outcome.
import { rmSync } from "node:fs";
import type { Config } from "../../src/config/settings.ts";
import { type Coordinator, startCoordinator } from "../../src/coordinator.ts";
import { enrolmentToken, testConfig } from "../harness.ts";
import { type AttemptOutcome, attemptConnection } from "./mtls-attempt.ts";
import { buildCases, enrolWithKeys, type MtlsCase, type MtlsCaseName } from "./mtls-cases.ts";

export interface MatrixOptions {
  /** Connection attempts per case (the control included). */
  attemptsPerCase: number;
  /** Attempts in flight at once (default 8). */
  concurrency?: number;
  /** Per-attempt limit (default 10 s). */
  timeoutMs?: number;
  /** Coordinator settings, e.g. a Postgres databaseUrl. */
  config?: Partial<Config>;
  /** Only these cases (default all). */
  only?: readonly MtlsCaseName[];
}

export interface CaseFigures {
  case: MtlsCaseName;
  what: string;
  attempts: number;
  accepted: number;
  tls_refused: number;
  app_refused: number;
  closed: number;
  timeout: number;
  /** Error codes the coordinator sent, with counts (app_refused). */
  codes: Record<string, number>;
  expectAccepted: boolean;
}

export interface MatrixResult {
  cases: CaseFigures[];
  attempts: number;
  seconds: number;
  /** Attempts per second over the whole matrix. */
  rate: number;
  pass: boolean;
  /** One line per broken expectation. */
  failures: string[];
}

const quiet = () => {};

/** Runs `run` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await run(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}

/** What a case's counts must be: the control accepted every time, every other case never. */
export function checkFigures(f: CaseFigures): string[] {
  const out: string[] = [];
  if (f.expectAccepted && f.accepted !== f.attempts) out.push(`${f.case}: ${f.accepted}/${f.attempts} accepted, expected every one`);
  if (!f.expectAccepted && f.accepted !== 0) out.push(`${f.case}: ${f.accepted}/${f.attempts} accepted, expected none`);
  if (f.timeout > 0) out.push(`${f.case}: ${f.timeout}/${f.attempts} attempts timed out undecided`);
  return out;
}

/**
 * Starts a coordinator (restarted once, so one revoked certificate is in its CRL), builds the
 * credential cases, makes `attemptsPerCase` attempts of each (interleaved, bounded concurrency)
 * and counts how far each got. The coordinator and its data directory are removed afterwards.
 */
export async function runMtlsMatrix(opts: MatrixOptions): Promise<MatrixResult> {
  const config = testConfig(opts.config);
  let c: Coordinator | null = null;
  try {
    const first = await startCoordinator(config, quiet);
    const revokedBeforeStart = await enrolWithKeys(first.apiUrl, await enrolmentToken(first.repo));
    await first.revokeWorker(revokedBeforeStart.nodeId, "mtls matrix: revoked before the restart");
    await first.stop();
    c = await startCoordinator(config, quiet);
    const live = c;
    const all = await buildCases({
      coordinator: live,
      token: () => enrolmentToken(live.repo),
      revokedBeforeStart,
      scratchDir: config.dataDir, // the rogue CA lives in the data directory and goes with it
    });
    const cases = opts.only ? all.filter((x) => opts.only?.includes(x.name)) : all;
    const figures = new Map<MtlsCaseName, CaseFigures>(
      cases.map((x) => [
        x.name,
        {
          case: x.name,
          what: x.what,
          attempts: 0,
          accepted: 0,
          tls_refused: 0,
          app_refused: 0,
          closed: 0,
          timeout: 0,
          codes: {},
          expectAccepted: x.expectAccepted,
        },
      ]),
    );
    const work: MtlsCase[] = [];
    for (let i = 0; i < opts.attemptsPerCase; i++) work.push(...cases);
    const t0 = performance.now();
    await pool(work, opts.concurrency ?? 8, async (x) => {
      const r = await attemptConnection(live.workerUrl, live.pki.caCertPem, x, opts.timeoutMs);
      const f = figures.get(x.name) as CaseFigures;
      f.attempts++;
      f[r.outcome satisfies AttemptOutcome]++;
      if (r.code) f.codes[r.code] = (f.codes[r.code] ?? 0) + 1;
    });
    const seconds = (performance.now() - t0) / 1000;
    const list = [...figures.values()];
    const failures = list.flatMap(checkFigures);
    return {
      cases: list,
      attempts: work.length,
      seconds: Math.round(seconds * 100) / 100,
      rate: Math.round(work.length / seconds),
      pass: failures.length === 0,
      failures,
    };
  } finally {
    await c?.stop();
    rmSync(config.dataDir, { recursive: true, force: true });
  }
}

/** The matrix as a fixed-width table, one line per case. */
export function matrixTable(r: MatrixResult): string {
  const head = `${"case".padEnd(24)}${"attempts".padStart(9)}${"accepted".padStart(9)}${"tls".padStart(7)}${"app".padStart(7)}${"closed".padStart(7)}${"t/o".padStart(5)}  codes`;
  const rows = r.cases.map(
    (f) =>
      `${f.case.padEnd(24)}${String(f.attempts).padStart(9)}${String(f.accepted).padStart(9)}${String(f.tls_refused).padStart(7)}${String(f.app_refused).padStart(7)}${String(f.closed).padStart(7)}${String(f.timeout).padStart(5)}  ${Object.entries(
        f.codes,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}`,
  );
  return [head, ...rows, `${r.attempts} attempts in ${r.seconds} s (${r.rate}/s)`].join("\n");
}
