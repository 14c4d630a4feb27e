// The worker's identity on disk (key, certificate, CA, node id; files 0600) and enrolment.
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { createCsr, createWorkerKeyPair, exportPkcs8Pem, importPkcs8Pem, x509 } from "@gogrid/protocol/identity";
import { writeFileAtomic } from "./config.ts";

export interface Identity {
  clientId: string;
  nodeId: string;
  certPem: string;
  keyPem: string;
  caPem: string;
  serial: string;
  notAfter: number;
  /** Pin of the coordinator's certificate key, from enrolment. */
  serverPin: string;
  workerUrl: string;
  privateKey: CryptoKey;
}

export class EnrolmentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "EnrolmentError";
  }
}

const FILES = { key: "client.key", cert: "client.crt", ca: "ca.crt", node: "node.json", clientId: "client-id" } as const;

/** The stable client id, made on first run. */
export function clientId(dir: string): string {
  const file = join(dir, FILES.clientId);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const id = crypto.randomUUID();
  writeFileAtomic(file, `${id}\n`);
  return id;
}

export async function loadIdentity(dir: string): Promise<Identity | null> {
  const paths = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(dir, f)])) as Record<keyof typeof FILES, string>;
  if (![paths.key, paths.cert, paths.ca, paths.node].every(existsSync)) return null;
  const node = JSON.parse(readFileSync(paths.node, "utf8")) as { node_id: string; serial: string; server_pin: string; worker_url: string };
  const keyPem = readFileSync(paths.key, "utf8");
  const certPem = readFileSync(paths.cert, "utf8");
  const cert = new x509.X509Certificate(certPem);
  const { privateKey } = await importPkcs8Pem(keyPem);
  return {
    clientId: clientId(dir),
    nodeId: node.node_id,
    certPem,
    keyPem,
    caPem: readFileSync(paths.ca, "utf8"),
    serial: node.serial,
    notAfter: cert.notAfter.getTime(),
    serverPin: node.server_pin,
    workerUrl: node.worker_url,
    privateKey,
  };
}

/** Makes a key pair and CSR, sends them with the token, stores what comes back. */
export async function enrol(dir: string, apiUrl: string, token: string, name: string): Promise<Identity> {
  if (!token)
    throw new EnrolmentError("no_token", "an enrolment token is needed: --token, GOGRID_ENROLMENT_TOKEN or [client] enrolment_token");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = await createWorkerKeyPair();
  const csr = await createCsr(keys, name || "gogrid-worker");
  let res: Response;
  try {
    res = await fetch(`${apiUrl.replace(/\/+$/, "")}/api/v1/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, csr, client_id: clientId(dir), ...(name ? { name } : {}) }),
    });
  } catch (e) {
    throw new EnrolmentError("unreachable", `cannot reach the coordinator at ${apiUrl}: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, string> & { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new EnrolmentError(
      body.error?.code ?? `http_${res.status}`,
      `enrolment refused (${res.status}): ${body.error?.message ?? res.statusText}`,
    );
  }
  writeFileAtomic(join(dir, FILES.key), await exportPkcs8Pem(keys.privateKey));
  writeFileAtomic(join(dir, FILES.cert), body.certificate as string);
  writeFileAtomic(join(dir, FILES.ca), body.ca_certificate as string);
  writeFileAtomic(
    join(dir, FILES.node),
    JSON.stringify(
      { node_id: body.node_id, serial: body.certificate_serial, server_pin: body.server_spki_sha256, worker_url: body.worker_url },
      null,
      2,
    ),
  );
  const id = await loadIdentity(dir);
  if (!id) throw new EnrolmentError("store_failed", `could not store the identity in ${dir}`);
  return id;
}

/** True when the certificate should be renewed (less than `withinMs` left). */
export function needsRenewal(id: Identity, now = Date.now(), withinMs = 30 * 86_400_000): boolean {
  return id.notAfter - now < withinMs;
}

/** A new key and CSR for renewal; the key is stored only once the certificate arrives. */
export async function renewalRequest(name: string): Promise<{ keys: CryptoKeyPair; csr: string }> {
  const keys = await createWorkerKeyPair();
  return { keys, csr: await createCsr(keys, name || "gogrid-worker") };
}

/** Stores a renewed certificate with the key it was requested for; returns the new identity. */
export async function storeRenewed(dir: string, keys: CryptoKeyPair, certPem: string, serial: string): Promise<Identity> {
  const node = JSON.parse(readFileSync(join(dir, FILES.node), "utf8")) as Record<string, string>;
  // key first: a crash in between leaves a key without its certificate, never the reverse pairing
  writeFileAtomic(join(dir, `${FILES.key}.new`), await exportPkcs8Pem(keys.privateKey));
  writeFileAtomic(join(dir, FILES.cert), certPem);
  renameSync(join(dir, `${FILES.key}.new`), join(dir, FILES.key));
  writeFileAtomic(join(dir, FILES.node), JSON.stringify({ ...node, serial }, null, 2));
  const id = await loadIdentity(dir);
  if (!id) throw new EnrolmentError("store_failed", `could not store the renewed certificate in ${dir}`);
  return id;
}
