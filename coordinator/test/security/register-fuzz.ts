// Fuzzes POST /api/v1/register: every answer a well-formed 200/400/403/413, and no token spent on a bad request.

import { Elysia } from "elysia";
import fc from "fast-check";
import { errorHandling } from "../../src/api/app.ts";
import { hashSecret } from "../../src/api/auth.ts";
import type { Coordinator } from "../../src/coordinator.ts";
import { enrolmentRoutes, MAX_REGISTER_BODY_BYTES } from "../../src/enrolment/index.ts";
import { createCsr, createWorkerKeyPair } from "../../src/pki/index.ts";
import { enrolmentToken } from "../harness.ts";

/** Sends one POST /api/v1/register and returns the response. */
export type Send = (init: { headers: Record<string, string>; body: string | Uint8Array }) => Promise<Response>;

/** The endpoint in-process (app.handle on the same repo and PKI) or through the coordinator's real listener. */
export function registerTarget(c: Coordinator, via: "handle" | "listener"): Send {
  if (via === "listener") return (init) => fetch(`${c.apiUrl}/api/v1/register`, { method: "POST", ...init });
  const app = new Elysia().use(errorHandling(() => {})).use(enrolmentRoutes({ repo: c.repo, pki: c.pki, workerUrl: () => c.workerUrl }));
  return (init) => app.handle(new Request("http://fuzz/api/v1/register", { method: "POST", ...init }));
}

interface Pools {
  /** Fresh single-use tokens; a request names one by index. */
  tokens: string[];
  expiredToken: string;
  csrs: string[];
  certificatePem: string;
}

/** One generated request: a body, a Content-Type, and what the generator knows about it. */
interface RegisterInput {
  body: string | Uint8Array;
  contentType: string | null;
  kind: string;
  /** Index of the pool token it carries (as a JSON string field), if any. */
  token: number | null;
  /** Every field valid, the token fresh from the pool: should enrol unless the token was used before. */
  valid: boolean;
}

export interface RegisterFuzzReport {
  target: "register";
  via: "handle" | "listener";
  inputs: number;
  seconds: number;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** Responses by error code. */
  codes: Record<string, number>;
  kinds: Record<string, number>;
  /** Pool tokens marked used in the repository, and the 200s that used them (must be equal). */
  tokens_spent: number;
  enrolled: number;
  seed: number;
  failure: string | null;
}

function tamper(pem: string, n: number): string {
  const lines = pem.split("\n");
  const i = 1 + (n % Math.max(1, lines.length - 3));
  const line = lines[i] ?? "";
  const at = n % Math.max(1, line.length);
  const swapped = line[at] === "A" ? "B" : "A";
  lines[i] = `${line.slice(0, at)}${swapped}${line.slice(at + 1)}`;
  return lines.join("\n");
}

/** undefined seven times in eight, else a value of `arb`. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

function arbitraries(pools: Pools): fc.Arbitrary<RegisterInput> {
  const validCsr = fc.constantFrom(...pools.csrs);
  const badCsr = fc.oneof(
    fc.tuple(validCsr, fc.nat()).map(([pem, n]) => tamper(pem, n)),
    fc.tuple(validCsr, fc.nat()).map(([pem, n]) => pem.slice(0, n % pem.length)),
    fc.constant(pools.certificatePem),
    fc.string({ maxLength: 200 }),
    fc.constant(`-----BEGIN CERTIFICATE REQUEST-----\n${"A".repeat(20_000)}\n-----END CERTIFICATE REQUEST-----`),
    fc.constant(""),
  );
  const goodToken = fc.nat({ max: pools.tokens.length - 1 }).map((i) => ({ value: pools.tokens[i] as string, index: i as number | null }));
  const badToken = fc
    .oneof(
      fc.constant(pools.expiredToken),
      fc.constant("ggenrol-unknown"),
      fc.string({ maxLength: 300 }),
      fc.constant("x".repeat(257)),
      fc.constant(""),
    )
    .map((value) => ({ value, index: null as number | null }));
  const wrongType = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 2 }),
    fc.object({ maxDepth: 1 }),
  );
  const optionalName = fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined });
  const optionalClientId = fc.option(fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/), { nil: undefined });

  // register-shaped bodies; `valid` only when every part is
  const shaped = fc
    .record({
      token: fc.oneof({ weight: 3, arbitrary: goodToken }, { weight: 2, arbitrary: badToken }),
      tokenWrongType: rarely(wrongType),
      csr: fc.oneof(
        { weight: 1, arbitrary: validCsr.map((v) => ({ v, ok: true })) },
        { weight: 3, arbitrary: badCsr.map((v) => ({ v, ok: false })) },
      ),
      csrWrongType: rarely(wrongType),
      name: fc.oneof(
        { weight: 6, arbitrary: optionalName.map((v) => ({ v, ok: true })) },
        { weight: 1, arbitrary: fc.oneof(wrongType, fc.constant(""), fc.constant("n".repeat(129))).map((v) => ({ v, ok: false })) },
      ),
      clientId: fc.oneof(
        { weight: 6, arbitrary: optionalClientId.map((v) => ({ v, ok: true })) },
        { weight: 1, arbitrary: fc.constantFrom("has space", "", "ü", "a/b").map((v) => ({ v, ok: false })) },
      ),
      extra: rarely(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))),
      drop: rarely(fc.constantFrom("token", "csr")),
    })
    .map((r) => {
      const body: Record<string, unknown> = {
        token: r.tokenWrongType !== undefined ? r.tokenWrongType : r.token.value,
        csr: r.csrWrongType !== undefined ? r.csrWrongType : r.csr.v,
      };
      if (r.name.v !== undefined) body.name = r.name.v;
      if (r.clientId.v !== undefined) body.client_id = r.clientId.v;
      const extraKey = r.extra && !["token", "csr", "name", "client_id"].includes(r.extra[0]) ? r.extra[0] : undefined;
      // defineProperty, so "__proto__" becomes a real key of the JSON text as well
      if (r.extra && extraKey) Object.defineProperty(body, extraKey, { value: r.extra[1], enumerable: true });
      if (r.drop) delete body[r.drop];
      const valid =
        r.token.index !== null &&
        r.tokenWrongType === undefined &&
        r.csr.ok &&
        r.csrWrongType === undefined &&
        r.name.ok &&
        r.clientId.ok &&
        extraKey === undefined &&
        r.drop === undefined;
      const carried = r.tokenWrongType === undefined && r.drop !== "token" ? r.token.index : null;
      return { body: JSON.stringify(body), kind: valid ? "valid" : "shaped", token: carried, valid };
    });
  const garbage = fc.oneof(
    fc.string({ unit: "binary", maxLength: 300 }).map((body) => ({ body: body as string | Uint8Array, kind: "random_text" })),
    fc.uint8Array({ maxLength: 300 }).map((body) => ({ body: body as string | Uint8Array, kind: "random_bytes" })),
    fc.jsonValue().map((v) => ({ body: (JSON.stringify(v) ?? "") as string | Uint8Array, kind: "random_json" })),
    fc.integer({ min: MAX_REGISTER_BODY_BYTES - 10, max: MAX_REGISTER_BODY_BYTES * 3 }).map((n) => ({
      body: `{"token":"${"t".repeat(n)}"}` as string | Uint8Array,
      kind: "oversize",
    })),
    fc
      .integer({ min: 1, max: 50_000 })
      .map((n) => ({ body: `${"[".repeat(n)}${"]".repeat(n)}` as string | Uint8Array, kind: "deep_json" })),
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant("application/json") },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        null,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-16",
        "application/xml",
      ),
    },
  );
  return fc.tuple(fc.oneof({ weight: 3, arbitrary: shaped }, { weight: 2, arbitrary: garbage }), contentType).map(([b, ct]) => ({
    token: null,
    valid: false,
    ...b,
    contentType: ct,
  }));
}

const ALLOWED = new Set([200, 400, 403, 413]);

/** Checks one answer; throws naming the broken property. Returns the error code ("" for 200). */
async function checkAnswer(input: RegisterInput, res: Response, usedBefore: boolean): Promise<string> {
  if (!ALLOWED.has(res.status)) throw new Error(`status ${res.status}`);
  const bytes = typeof input.body === "string" ? Buffer.byteLength(input.body) : input.body.byteLength;
  if ((res.status === 413) !== bytes > MAX_REGISTER_BODY_BYTES) throw new Error(`status ${res.status} for a body of ${bytes} bytes`);
  const text = await res.text();
  let body: { error?: { message?: unknown; type?: unknown; param?: unknown; code?: unknown } } & Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`status ${res.status} with a body that is not JSON: ${text.slice(0, 120)}`);
  }
  const shouldEnrol = input.valid && !usedBefore;
  if (res.status === 200) {
    if (!shouldEnrol) throw new Error("enrolled with a request that should have been refused");
    for (const k of ["node_id", "certificate", "certificate_serial", "ca_certificate", "worker_url"]) {
      if (typeof body[k] !== "string") throw new Error(`200 without ${k}`);
    }
    return "";
  }
  if (shouldEnrol) throw new Error(`a valid request with a fresh token was refused: ${res.status} ${text.slice(0, 200)}`);
  const e = body.error;
  if (!e || typeof e.message !== "string" || e.message.length === 0 || e.message.length > 1000)
    throw new Error(`malformed error body ${text.slice(0, 200)}`);
  if (typeof e.type !== "string" || typeof e.code !== "string" || !/^[a-z][a-z0-9_]*$/.test(e.code))
    throw new Error(`malformed error type/code ${text.slice(0, 200)}`);
  if (!(e.param === null || typeof e.param === "string")) throw new Error("error param neither null nor a string");
  if (res.status === 403 && !String(e.code).startsWith("token_")) throw new Error(`403 for ${e.code}`);
  if (res.status === 413 && e.code !== "request_too_large") throw new Error(`413 with code ${e.code}`);
  return e.code;
}

/**
 * Sends `runs` generated requests to `send` and checks each answer; then checks in the repository
 * that exactly the pool tokens of successful requests were spent.
 */
export async function fuzzRegister(opts: {
  c: Coordinator;
  send: Send;
  via: "handle" | "listener";
  runs: number;
  seed?: number;
  tokens?: number;
}): Promise<RegisterFuzzReport> {
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const tokens = await Promise.all(Array.from({ length: opts.tokens ?? 100 }, () => enrolmentToken(opts.c.repo, 3_600_000)));
  const csrs = await Promise.all(Array.from({ length: 4 }, async () => createCsr(await createWorkerKeyPair(), "fuzz")));
  const pools: Pools = { tokens, expiredToken: await enrolmentToken(opts.c.repo, -1000), csrs, certificatePem: opts.c.pki.caCertPem };
  const report: RegisterFuzzReport = {
    target: "register",
    via: opts.via,
    inputs: 0,
    seconds: 0,
    statuses: {},
    codes: {},
    kinds: {},
    tokens_spent: 0,
    enrolled: 0,
    seed,
    failure: null,
  };
  const spentBy200 = new Set<number>();
  const t0 = performance.now();
  const details = await fc.check(
    fc.asyncProperty(arbitraries(pools), async (input) => {
      report.inputs++;
      report.kinds[input.kind] = (report.kinds[input.kind] ?? 0) + 1;
      const headers: Record<string, string> = input.contentType === null ? {} : { "content-type": input.contentType };
      const usedBefore = input.token !== null && spentBy200.has(input.token);
      let res: Response;
      try {
        res = await opts.send({ headers, body: input.body });
      } catch (e) {
        throw new Error(`the request threw ${(e as Error).message} — ${input.kind} ${String(input.body).slice(0, 120)}`);
      }
      let code: string;
      try {
        code = await checkAnswer(input, res, usedBefore);
      } catch (e) {
        throw new Error(
          `${(e as Error).message} — ${input.kind} body ${JSON.stringify(String(input.body).slice(0, 2000))} (${input.contentType})`,
        );
      }
      report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
      if (code) report.codes[code] = (report.codes[code] ?? 0) + 1;
      if (res.status === 200 && input.token !== null) {
        spentBy200.add(input.token);
        report.enrolled++;
      }
    }),
    // no shrinking: requests change the repository (tokens get spent), so a replay is not the same test
    { numRuns: opts.runs, seed, endOnFailure: true },
  );
  report.seconds = Math.round((performance.now() - t0) / 10) / 100;
  const rows = await opts.c.repo.listEnrolmentTokens();
  const used = new Set(rows.filter((r) => r.usedAt !== null).map((r) => r.tokenHash));
  const spentPool = tokens.map((t, i) => [i, used.has(hashSecret(t))] as const).filter(([, u]) => u);
  report.tokens_spent = spentPool.length;
  const wrongly = spentPool.filter(([i]) => !spentBy200.has(i)).length;
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    report.failure = `seed ${seed}, after ${details.numRuns} runs: ${why}`;
  } else if (wrongly > 0 || spentPool.length !== spentBy200.size) {
    report.failure = `${wrongly} pool token(s) spent without a 200; ${spentPool.length} spent, ${spentBy200.size} enrolments`;
  }
  return report;
}
