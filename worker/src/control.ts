// The local control API for the tray and the CLI: loopback only (a unix socket, or on Windows
// 127.0.0.1 with a random token kept in a 0600 file).
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "./config.ts";

export interface ControlHandlers {
  status(): unknown;
  stats(): unknown;
  pause(body: { duration_secs?: number; reason?: string }): unknown;
  resume(): unknown;
  restart(): unknown;
  setMode(mode: string): unknown;
  setThrottling(enabled: boolean): unknown;
  logs(): unknown;
}

const json = (v: unknown, status = 200) => Response.json(v, { status });
const error = (status: number, code: string, message: string) => json({ error: { code, message } }, status);

async function body(req: Request): Promise<Record<string, unknown>> {
  if (!req.headers.get("content-length") && !req.body) return {};
  try {
    const v = await req.json();
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function handleControl(h: ControlHandlers, token: string | null) {
  return async (req: Request): Promise<Response> => {
    if (token !== null && req.headers.get("authorization") !== `Bearer ${token}`)
      return error(401, "unauthorized", "missing or wrong control token");
    const { pathname } = new URL(req.url);
    const route = `${req.method} ${pathname}`;
    try {
      switch (route) {
        case "GET /status":
          return json(h.status());
        case "GET /stats":
          return json(h.stats());
        case "GET /logs":
          return json(h.logs());
        case "POST /pause": {
          const b = await body(req);
          const d = b.duration_secs;
          if (d !== undefined && (typeof d !== "number" || !Number.isInteger(d) || d < 1))
            return error(400, "invalid_duration", `duration_secs must be a positive integer, got ${JSON.stringify(d)}`);
          return json(
            h.pause({ ...(d !== undefined ? { duration_secs: d } : {}), ...(typeof b.reason === "string" ? { reason: b.reason } : {}) }),
          );
        }
        case "POST /resume":
          return json(h.resume());
        case "POST /restart":
          return json(h.restart());
        case "PUT /mode": {
          const mode = (await body(req)).mode;
          if (mode !== "conservative" && mode !== "default" && mode !== "aggressive") {
            return error(400, "invalid_mode", `mode must be conservative, default or aggressive, got ${JSON.stringify(mode)}`);
          }
          return json(h.setMode(mode));
        }
        case "PUT /throttling": {
          const enabled = (await body(req)).enabled;
          if (typeof enabled !== "boolean")
            return error(400, "invalid_enabled", `enabled must be true or false, got ${JSON.stringify(enabled)}`);
          return json(h.setThrottling(enabled));
        }
        default:
          return error(404, "not_found", `no control route ${route}`);
      }
    } catch (e) {
      return error(500, "internal_error", (e as Error).message);
    }
  };
}

export interface ControlServer {
  endpoint: string;
  stop(): void;
}

/** Serves the control API on `endpoint` (a socket path, or on Windows the token file's path). */
export function serveControl(endpoint: string, h: ControlHandlers): ControlServer {
  mkdirSync(dirname(endpoint), { recursive: true, mode: 0o700 });
  if (process.platform === "win32") {
    const token = randomBytes(24).toString("base64url");
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handleControl(h, token) });
    writeFileAtomic(endpoint, JSON.stringify({ url: `http://127.0.0.1:${server.port}`, token }));
    return { endpoint, stop: () => void server.stop(true) };
  }
  if (existsSync(endpoint)) rmSync(endpoint); // a stale socket from a crash
  const server = Bun.serve({ unix: endpoint, fetch: handleControl(h, null) });
  return {
    endpoint,
    stop: () => {
      void server.stop(true);
      rmSync(endpoint, { force: true });
    },
  };
}

export class ControlUnavailableError extends Error {
  readonly code = "worker_not_running";
  constructor(endpoint: string) {
    super(`the GoGrid worker is not running (no control endpoint at ${endpoint}); start it with \`gogrid-worker run\``);
    this.name = "ControlUnavailableError";
  }
}

/**
 * Calls the control API of the local worker. With `timeoutMs`, a worker that has not answered in full by
 * then fails the call with "no answer in <timeoutMs> ms" (and the request is aborted, not left running).
 */
export async function controlRequest(
  endpoint: string,
  method: string,
  path: string,
  payload?: unknown,
  options: { timeoutMs?: number } = {},
): Promise<unknown> {
  const { timeoutMs } = options;
  const init: RequestInit & { unix?: string } = {
    method,
    ...(payload !== undefined ? { body: JSON.stringify(payload), headers: { "content-type": "application/json" } } : {}),
    ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
  };
  const noAnswer = (e: unknown) =>
    timeoutMs !== undefined && (e as Error | null)?.name === "TimeoutError" ? new Error(`no answer in ${timeoutMs} ms`) : null;
  let url: string;
  if (endpoint.endsWith(".json")) {
    if (!existsSync(endpoint)) throw new ControlUnavailableError(endpoint);
    const { url: base, token } = JSON.parse(readFileSync(endpoint, "utf8")) as { url: string; token: string };
    url = `${base}${path}`;
    init.headers = { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` };
  } else {
    if (!existsSync(endpoint)) throw new ControlUnavailableError(endpoint);
    url = `http://localhost${path}`;
    init.unix = endpoint;
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw noAnswer(e) ?? new ControlUnavailableError(endpoint);
  }
  let out: { error?: { message: string } };
  try {
    out = (await res.json()) as { error?: { message: string } };
  } catch (e) {
    throw noAnswer(e) ?? e;
  }
  if (!res.ok) throw new Error(out.error?.message ?? `control API answered ${res.status}`);
  return out;
}
