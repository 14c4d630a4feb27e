// Configuration layering and errors that name the bad value.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, settingsHelp } from "./load.ts";
import { envName, flagName, SETTINGS } from "./settings.ts";

const dir = mkdtempSync(join(tmpdir(), "gogrid-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe("loadConfig", () => {
  test("defaults", () => {
    const c = loadConfig({ env: {}, flags: { dataDir: join(dir, "none") } });
    expect(c.apiPort).toBe(8080);
    expect(c.workerPort).toBe(8443);
    expect(c.databaseUrl).toBe("");
    expect(c.serverNames).toEqual(["localhost", "127.0.0.1", "::1"]);
  });

  test("file < env < flags", () => {
    const f = file(
      "a.toml",
      '[api]\nport = 9000\nhost = "0.0.0.0"\n[worker]\nport = 9443\n[pki]\nserver_names = ["grid.example", "10.0.0.5"]\n',
    );
    const c = loadConfig({ configFile: f, env: { GOGRID_WORKER_PORT: "9444" }, flags: { apiHost: "127.0.0.2" } });
    expect(c.apiPort).toBe(9000);
    expect(c.apiHost).toBe("127.0.0.2");
    expect(c.workerPort).toBe(9444);
    expect(c.serverNames).toEqual(["grid.example", "10.0.0.5"]);
    expect(loadConfig({ configFile: f, env: { GOGRID_PKI_SERVER_NAMES: "a, b" } }).serverNames).toEqual(["a", "b"]);
  });

  test("fractional settings (audit): from file, env and flags; out-of-range and non-numbers refused", () => {
    expect(loadConfig({ env: {}, flags: { dataDir: join(dir, "none") } })).toMatchObject({ auditFraction: 0.02, auditTrustThreshold: 0.7 });
    const f = file("audit.toml", "[audit]\nfraction = 0.5\ncanary_fraction = 1\n");
    expect(loadConfig({ configFile: f, env: {} })).toMatchObject({ auditFraction: 0.5, auditCanaryFraction: 1 });
    expect(loadConfig({ env: { GOGRID_AUDIT_FRACTION: ".25" } }).auditFraction).toBe(0.25);
    expect(loadConfig({ env: {}, flags: { auditFraction: "0" } }).auditFraction).toBe(0);
    expect(() => loadConfig({ env: { GOGRID_AUDIT_FRACTION: "1.5" } })).toThrow(
      'audit.fraction in GOGRID_AUDIT_FRACTION: "1.5" is not valid (expected a number from 0 to 1)',
    );
    expect(() => loadConfig({ env: {}, flags: { auditFraction: "2%" } })).toThrow("audit.fraction for --audit-fraction");
    expect(() => loadConfig({ configFile: file("audit2.toml", '[audit]\nfraction = "x"\n') })).toThrow(/audit.fraction in/);
  });

  test("the coordinator.toml the installers ship loads as it is (jobs.retention_days 30; -1 refused)", () => {
    const shipped = join(import.meta.dir, "../../../installers/coordinator/coordinator.toml");
    expect(loadConfig({ configFile: shipped, env: {} })).toMatchObject({ dataDir: "/opt/gogrid/data", retentionDays: 30, apiPort: 8080 });
    expect(loadConfig({ env: { GOGRID_JOBS_RETENTION_DAYS: "0" } }).retentionDays).toBe(0);
    expect(() => loadConfig({ env: { GOGRID_JOBS_RETENTION_DAYS: "-1" } })).toThrow(
      /jobs.retention_days in GOGRID_JOBS_RETENTION_DAYS: "-1"/,
    );
  });

  test("<data_dir>/coordinator.toml is read when no file is given", () => {
    const data = join(dir, "data");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "coordinator.toml"), "[jobs]\nmax_attempts = 5\n");
    expect(loadConfig({ env: {}, flags: { dataDir: data } }).maxAttempts).toBe(5);
  });

  test("bad values are named with where they came from", () => {
    expect(() => loadConfig({ env: { GOGRID_API_PORT: "http" } })).toThrow(
      'api.port in GOGRID_API_PORT: "http" is not valid (expected an integer from 0 to 65535)',
    );
    expect(() => loadConfig({ env: {}, flags: { workerPort: "70000" } })).toThrow("worker.port for --worker-port");
    expect(() => loadConfig({ configFile: file("b.toml", '[log]\nlevel = "loud"\n') })).toThrow(
      /log.level in .*b.toml: "loud" is not valid \(expected one of debug, info, warn, error\)/,
    );
    expect(() => loadConfig({ configFile: file("c.toml", "[api]\nprot = 1\n") })).toThrow('unknown setting "api.prot"');
    expect(() => loadConfig({ configFile: file("d.toml", "[api\n") })).toThrow(/not valid TOML/);
    expect(() => loadConfig({ configFile: join(dir, "missing.toml") })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { GOGRID_DATABASE_URL: "mysql://x" } })).toThrow(/neither postgres/);
  });
});

describe("help", () => {
  test("lists every setting with its flag, env variable, TOML key and default", () => {
    const help = settingsHelp();
    for (const spec of Object.values(SETTINGS)) {
      expect(help).toContain(flagName(spec));
      expect(help).toContain(envName(spec));
      expect(help).toContain(spec.description);
    }
    expect(help).toContain("--api-port <int>");
    expect(help).toContain("(default: 8080)");
  });
});
