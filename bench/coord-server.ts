// Bench child: one coordinator (SQLite or a fresh Postgres database) on loopback, its own process so its CPU is measured alone.
//
// usage: bun bench/coord-server.ts [--postgres] [--heartbeat-secs N]
// Prints {"ready":true,"api_url","worker_url","key","store","pid"}, then answers stdin lines:
//   tokens N  → {"tokens":[N single-use enrolment tokens]}
//   workers   → {"connected": sockets the gateway holds}
//   quit      → stops the coordinator, drops the Postgres database, exits
import { parseArgs } from "node:util";
import { freshPostgresUrl } from "../coordinator/src/db/testing.ts";
import { addModel, apiKey, enrolmentToken, start } from "../coordinator/test/harness.ts";
import { serveCommands } from "./child.ts";
import { BENCH_MODEL_ID } from "./stack.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { postgres: { type: "boolean", default: false }, "heartbeat-secs": { type: "string", default: "15" } },
});
const heartbeatSecs = Number(values["heartbeat-secs"]);
const pg = values.postgres ? await freshPostgresUrl() : null;
const c = await start({ ...(pg ? { databaseUrl: pg.url } : {}), heartbeatSecs, leaseSecs: 30, logLevel: "error" });
await addModel(c.repo, BENCH_MODEL_ID);
const key = await apiKey(c.repo);
process.stdout.write(
  `${JSON.stringify({ ready: true, api_url: c.apiUrl, worker_url: c.workerUrl, key, store: pg ? "postgres" : "sqlite", pid: process.pid })}\n`,
);

await serveCommands(async (cmd, args) => {
  if (cmd === "tokens") {
    const n = Number(args[0]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`tokens needs a count ≥ 1, got "${args[0]}"`);
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(await enrolmentToken(c.repo, 3_600_000, "bench"));
    return { tokens };
  }
  if (cmd === "workers") return { connected: c.gateway.slots().length };
  if (cmd === "quit") return "quit";
  throw new Error(`unknown command "${cmd}"`);
});
await c.cleanup();
await pg?.drop();
process.exit(0);
