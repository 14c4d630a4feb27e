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
import { type PartOptions, type PartResult, prefixed, type SoakPart } from "./part.ts";

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

function registerFigures(r: RegisterFuzzReport, into: PartResult["figures"]): void {
  const p = `fuzz_register_${r.via}`;
  prefixed(into, p, r, ["inputs", "seconds", "enrolled", "tokens_spent", "seed"]);
  prefixed(into, `${p}_status`, r.statuses, Object.keys(r.statuses));
}

export const security: SoakPart = {
  name: "security",
  describe: "mTLS matrix (1,000 attempts per credential case) and fuzzing of the decoders and POST /api/v1/register (1.1 M inputs)",
  async run(opts: PartOptions): Promise<PartResult> {
    const size = opts.quick ? SECURITY_SIZES.quick : SECURITY_SIZES.full;
    const failures: string[] = [];
    const figures: PartResult["figures"] = { quick: opts.quick, store: opts.postgres ? "postgres" : "sqlite" };
    const pg = opts.postgres ? await freshPostgresUrl() : null;
    const config = pg ? { databaseUrl: pg.url } : {};
    try {
      opts.log(`security: mTLS matrix, ${size.attemptsPerCase} attempts per case`);
      const matrix = await runMtlsMatrix({ attemptsPerCase: size.attemptsPerCase, concurrency: 8, config });
      opts.log(matrixTable(matrix));
      for (const f of matrix.cases)
        prefixed(figures, `mtls_${f.case}`, f, ["attempts", "accepted", "tls_refused", "app_refused", "closed", "timeout"]);
      prefixed(figures, "mtls", matrix, ["attempts", "seconds"]);
      figures.mtls_attempts_per_s = matrix.rate;
      failures.push(...matrix.failures);

      opts.log(`security: decoder fuzz, ${size.frames} frames`);
      const decoders = fuzzDecoders({ runs: size.frames });
      prefixed(figures, "fuzz_decoders", decoders, ["inputs", "decodes", "seconds", "accepted", "slowest_ms", "seed"]);
      prefixed(figures, "fuzz_decoders_refused", decoders.refused, Object.keys(decoders.refused));
      let fuzzInputs = decoders.inputs;
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
          fuzzInputs += r.inputs;
          if (r.failure) failures.push(`register fuzz (${via}): ${r.failure}`);
          if (r.inputs !== runs) failures.push(`register fuzz (${via}): ${r.inputs}/${runs} requests made`);
        }
      } finally {
        await c.cleanup();
      }
      figures.fuzz_inputs_total = fuzzInputs;

      opts.log(`security: session fuzz, ${size.sessionFrames} frames on live mTLS sockets`);
      const sessions = await fuzzSessions({ frames: size.sessionFrames, config });
      prefixed(figures, "fuzz_sessions", sessions, ["inputs", "connections", "seconds", "logged_errors", "pre_auth_welcomed", "seed"]);
      if (sessions.failure) failures.push(`session fuzz: ${sessions.failure}`);
    } finally {
      await pg?.drop();
    }
    return { part: "security", pass: failures.length === 0, figures, failures };
  },
};
