// Soak part "security" (issue 9): the mTLS matrix on a real worker port, and fuzzing of the decoders and the enrolment endpoint.
//
// Quick: 20 attempts per mTLS case; 50,000 fuzz inputs (45,000 frames, 4,000 register requests
// in-process, 1,000 through the listener) plus 1,000 frames on live sessions. Full: 1,000 attempts
// per case; 1,100,000 fuzz inputs (1,000,000 frames, 90,000 + 10,000 register requests) plus
// 20,000 frames on live sessions. Pass: no bad credential accepted, the control accepted every
// time, no fuzz property broken, no token spent without an enrolment, no handler error logged.
import { freshPostgresUrl } from "../../coordinator/src/db/testing.ts";
import { start } from "../../coordinator/test/harness.ts";
import { matrixTable, runMtlsMatrix } from "../../coordinator/test/security/mtls-matrix.ts";
import { fuzzRegister, type RegisterFuzzReport, registerTarget } from "../../coordinator/test/security/register-fuzz.ts";
import { fuzzSessions } from "../../coordinator/test/security/session-fuzz.ts";
import { fuzzDecoders } from "../../protocol/src/testing/fuzz-decoders.ts";
import type { PartOptions, PartResult, SoakPart } from "./part.ts";

type Figures = Record<string, number | string | boolean>;

export const SECURITY_SIZES = {
  quick: { attemptsPerCase: 20, frames: 45_000, registerInProcess: 4_000, registerListener: 1_000, tokens: 200, sessionFrames: 1_000 },
  full: {
    attemptsPerCase: 1_000,
    frames: 1_000_000,
    registerInProcess: 90_000,
    registerListener: 10_000,
    tokens: 2_000,
    sessionFrames: 20_000,
  },
} as const;

function registerFigures(r: RegisterFuzzReport, into: Figures): void {
  const p = `fuzz_register_${r.via}`;
  into[`${p}_inputs`] = r.inputs;
  into[`${p}_seconds`] = r.seconds;
  into[`${p}_enrolled`] = r.enrolled;
  into[`${p}_tokens_spent`] = r.tokens_spent;
  into[`${p}_seed`] = r.seed;
  for (const [status, n] of Object.entries(r.statuses)) into[`${p}_status_${status}`] = n;
}

export const security: SoakPart = {
  name: "security",
  describe: "mTLS matrix (1,000 attempts per credential case) and fuzzing of the decoders and POST /api/v1/register (1.1 M inputs)",
  async run(opts: PartOptions): Promise<PartResult> {
    const size = opts.quick ? SECURITY_SIZES.quick : SECURITY_SIZES.full;
    const failures: string[] = [];
    const figures: Figures = { quick: opts.quick, store: opts.postgres ? "postgres" : "sqlite" };
    const pg = opts.postgres ? await freshPostgresUrl() : null;
    const config = pg ? { databaseUrl: pg.url } : {};
    try {
      opts.log(`security: mTLS matrix, ${size.attemptsPerCase} attempts per case`);
      const matrix = await runMtlsMatrix({ attemptsPerCase: size.attemptsPerCase, concurrency: 8, config });
      opts.log(matrixTable(matrix));
      for (const f of matrix.cases) {
        for (const k of ["attempts", "accepted", "tls_refused", "app_refused", "closed", "timeout"] as const)
          figures[`mtls_${f.case}_${k}`] = f[k];
      }
      figures.mtls_attempts = matrix.attempts;
      figures.mtls_seconds = matrix.seconds;
      figures.mtls_attempts_per_s = matrix.rate;
      failures.push(...matrix.failures);

      opts.log(`security: decoder fuzz, ${size.frames} frames`);
      const decoders = fuzzDecoders({ runs: size.frames });
      figures.fuzz_decoders_inputs = decoders.inputs;
      figures.fuzz_decoders_decodes = decoders.decodes;
      figures.fuzz_decoders_seconds = decoders.seconds;
      figures.fuzz_decoders_accepted = decoders.accepted;
      figures.fuzz_decoders_slowest_ms = decoders.slowest_ms;
      figures.fuzz_decoders_seed = decoders.seed;
      for (const [code, n] of Object.entries(decoders.refused)) figures[`fuzz_decoders_refused_${code}`] = n;
      if (decoders.failure) failures.push(`decoder fuzz: ${decoders.failure}`);

      const c = await start(config);
      try {
        for (const [via, runs] of [
          ["handle", size.registerInProcess],
          ["listener", size.registerListener],
        ] as const) {
          opts.log(`security: register fuzz (${via}), ${runs} requests`);
          const r = await fuzzRegister({ c, send: registerTarget(c, via), via, runs, tokens: size.tokens });
          registerFigures(r, figures);
          if (r.failure) failures.push(`register fuzz (${via}): ${r.failure}`);
          if (r.inputs !== runs) failures.push(`register fuzz (${via}): ${r.inputs}/${runs} requests made`);
        }
      } finally {
        await c.cleanup();
      }
      figures.fuzz_inputs_total =
        Number(figures.fuzz_decoders_inputs) + Number(figures.fuzz_register_handle_inputs) + Number(figures.fuzz_register_listener_inputs);

      opts.log(`security: session fuzz, ${size.sessionFrames} frames on live mTLS sockets`);
      const sessions = await fuzzSessions({ frames: size.sessionFrames, config });
      figures.fuzz_sessions_inputs = sessions.inputs;
      figures.fuzz_sessions_connections = sessions.connections;
      figures.fuzz_sessions_seconds = sessions.seconds;
      figures.fuzz_sessions_logged_errors = sessions.logged_errors;
      figures.fuzz_sessions_pre_auth_welcomed = sessions.pre_auth_welcomed;
      figures.fuzz_sessions_seed = sessions.seed;
      if (sessions.failure) failures.push(`session fuzz: ${sessions.failure}`);
    } finally {
      await pg?.drop();
    }
    return { part: "security", pass: failures.length === 0, figures, failures };
  },
};
