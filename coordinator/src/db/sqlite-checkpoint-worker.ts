// The background checkpointer's thread (sqlite-checkpoint.ts): its own connection copies the WAL into the database file.
import { Database } from "bun:sqlite";
import { describeCause } from "./errors.ts";

declare const self: Worker;

interface Start {
  path: string;
  intervalMs: number;
}

let db: Database | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

/**
 * Checkpoints until the WAL is fully copied: the coordinator's next transaction that starts with
 * nothing left to copy restarts the WAL from its beginning (SQLite does that only then; the
 * coordinator holds its writes for a "drain" to make sure of it), so the file stays small without
 * the coordinator's thread ever waiting for an fsync.
 */
function checkpoint(type: "checkpointed" | "drained" = "checkpointed"): void {
  if (!db) return;
  try {
    let row = { busy: 0, log: 0, checkpointed: 0 };
    for (let round = 0; round < 50; round++) {
      // PASSIVE: copies what no reader still needs, never waits for or blocks the writer
      row = db.query("PRAGMA wal_checkpoint(PASSIVE)").get() as typeof row;
      if (row.busy !== 0 || row.checkpointed >= row.log) break;
    }
    self.postMessage({ type, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    self.postMessage({ type: "failed", message: describeCause(error) });
  }
}

self.onmessage = (event: MessageEvent<Start | { type: "stop" | "drain" }>) => {
  const m = event.data;
  if ("type" in m && m.type === "drain") {
    // the coordinator holds its writes meanwhile: this copies all of the WAL
    checkpoint("drained");
    return;
  }
  if ("type" in m) {
    if (timer) clearInterval(timer);
    checkpoint();
    db?.close();
    db = null;
    self.postMessage({ type: "stopped" });
    return;
  }
  try {
    db = new Database(m.path, { readwrite: true });
    db.run("PRAGMA busy_timeout = 5000");
    timer = setInterval(checkpoint, m.intervalMs);
    self.postMessage({ type: "ready" });
  } catch (error) {
    self.postMessage({ type: "failed", message: describeCause(error) });
  }
};
