// Test helpers for the PKI tests: temporary directories and ready-made worker credentials.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCsr, createWorkerKeyPair, exportPkcs8Pem } from "@gogrid/protocol/identity";
import type { Pki } from "./ca.ts";

export const SERVER_NAMES = ["localhost", "127.0.0.1", "::1"] as const;

/** Temporary directories that `cleanup()` removes (call it in afterAll). */
export function tempDirs(): { make(): Promise<string>; cleanup(): Promise<void> } {
  const made: string[] = [];
  return {
    async make() {
      const dir = await mkdtemp(join(tmpdir(), "gogrid-pki-"));
      made.push(dir);
      return join(dir, "pki");
    },
    async cleanup() {
      await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

/** A worker's credentials as node:tls and fetch take them, plus the issued serial and keys. */
export interface WorkerCredentials {
  readonly cert: string;
  readonly key: string;
  readonly serial: string;
  readonly keys: CryptoKeyPair;
}

/** Enrols a fresh worker key with `pki` (optionally at another time, for expired certificates). */
export async function enrolWorker(pki: Pki, nodeId: string, now?: Date): Promise<WorkerCredentials> {
  const keys = await createWorkerKeyPair();
  const issued = await pki.signCsr(await createCsr(keys, "worker"), nodeId, now);
  return { cert: issued.pem, key: await exportPkcs8Pem(keys.privateKey), serial: issued.serial, keys };
}

export const DAY_MS = 24 * 60 * 60 * 1000;
