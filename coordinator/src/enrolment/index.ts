// POST /api/v1/register: a CSR and a single-use enrolment token in, a client certificate out.

import { randomBytes } from "node:crypto";
import { type Static, Type as T } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Elysia } from "elysia";
import { hashSecret } from "../api/auth.ts";
import { readJsonBody } from "../api/body.ts";
import { ApiError, badRequest } from "../api/errors.ts";
import type { Repository } from "../db/repository.ts";
import { checkCsr } from "../pki/csr.ts";
import { CsrError, type Pki } from "../pki/index.ts";

export const ENROLMENT_TOKEN_PREFIX = "ggenrol-";
/** A register body is a token, a CSR of at most 16 KiB and two short names: 64 KiB is plenty. */
export const MAX_REGISTER_BODY_BYTES = 64 * 1024;

const RegisterBody = T.Object(
  {
    token: T.String({ minLength: 1, maxLength: 256 }),
    csr: T.String({ minLength: 1, maxLength: 16 * 1024 }),
    client_id: T.Optional(T.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9._:-]+$" })),
    name: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
type RegisterBody = Static<typeof RegisterBody>;
const check = TypeCompiler.Compile(RegisterBody);

export interface EnrolmentDeps {
  repo: Repository;
  pki: Pki;
  /** wss://host:port the worker connects to afterwards. */
  workerUrl: () => string;
  now?: () => number;
}

/** A new enrolment token: the secret (shown once) and its hash (stored). */
export function newEnrolmentToken(): { secret: string; hash: string } {
  const secret = `${ENROLMENT_TOKEN_PREFIX}${randomBytes(24).toString("base64url")}`;
  return { secret, hash: hashSecret(secret) };
}

const refused = (code: string, message: string) => new ApiError(403, "permission_error", code, message, "token");

export function enrolmentRoutes(deps: EnrolmentDeps) {
  const now = deps.now ?? Date.now;
  return new Elysia({ name: "enrolment" }).post(
    "/api/v1/register",
    async ({ request }) => register(deps, now, await readJsonBody(request, MAX_REGISTER_BODY_BYTES)),
    // read by readJsonBody, capped: an oversize body is refused without being read
    { parse: "none" },
  );
}

async function register(deps: EnrolmentDeps, now: () => number, body: unknown) {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the request body must be a JSON object");
  if (!check.Check(body)) {
    const e = check.Errors(body).First();
    const param = e?.path.replace(/^\//, "") || null;
    throw badRequest(e ? `invalid ${param || "body"}: ${e.message}` : "invalid body", param);
  }
  const req = body as RegisterBody;
  // check the CSR before spending the single-use token on it
  try {
    await checkCsr(req.csr);
  } catch (e) {
    if (e instanceof CsrError) throw badRequest(e.message, "csr", "invalid_csr");
    throw e;
  }
  const nodeId = crypto.randomUUID();
  const used = await deps.repo.consumeEnrolmentToken(hashSecret(req.token), nodeId, now());
  if (!used.ok) {
    if (used.reason === "used") throw refused("token_used", "this enrolment token has already been used: ask the operator for a new one");
    if (used.reason === "expired") throw refused("token_expired", "this enrolment token has expired: ask the operator for a new one");
    throw refused("token_unknown", "unknown enrolment token");
  }
  const cert = await deps.pki.signCsr(req.csr, nodeId, new Date(now()));
  await deps.repo.createWorker({ nodeId, clientId: req.client_id ?? null, name: req.name ?? null, ownerId: used.token.ownerId }, now());
  await deps.repo.insertCertificate({
    serial: cert.serial,
    nodeId,
    pem: cert.pem,
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
  });
  return {
    node_id: nodeId,
    certificate: cert.pem,
    certificate_serial: cert.serial,
    not_after: cert.notAfter.toISOString(),
    ca_certificate: deps.pki.caCertPem,
    server_spki_sha256: deps.pki.serverSpkiSha256,
    worker_url: deps.workerUrl(),
  };
}
