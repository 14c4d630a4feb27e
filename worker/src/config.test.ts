// config.toml validation and the per-OS paths.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configTemplate, loadWorkerConfig, validateConfig, WorkerConfigError } from "./config.ts";
import { clientId } from "./identity.ts";
import { workerPaths } from "./paths.ts";

const dir = mkdtempSync(join(tmpdir(), "gogrid-wcfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("config.toml", () => {
  test("defaults fill every section", () => {
    const c = validateConfig({});
    expect(c.resources.mode).toBe("default");
    expect(c.worker.max_concurrent_jobs).toBe("auto");
    expect(c.resources).toMatchObject({ yield_to_gpu_apps: true, yield_to_fullscreen: true, yield_quiet_secs: 30 });
    expect(c.worker.reconnect_delay_secs).toBe(5);
    expect(c.logging.max_log_size_mb).toBe(10);
  });

  test("errors name the key and the accepted values", () => {
    const cases: [unknown, string][] = [
      [{ resources: { mode: "turbo" } }, 'resources.mode = "turbo" is not valid (expected one of conservative, default, aggressive)'],
      [{ worker: { max_concurrent_jobs: 0 } }, 'worker.max_concurrent_jobs = 0 is not valid (expected "auto" or an integer from 1 to 256)'],
      [
        { worker: { max_concurrent_jobs: "lots" } },
        'worker.max_concurrent_jobs = "lots" is not valid (expected "auto" or an integer from 1 to 256)',
      ],
      [
        { worker: { max_concurrent_jobs: 2.5 } },
        'worker.max_concurrent_jobs = 2.5 is not valid (expected "auto" or an integer from 1 to 256)',
      ],
      [{ resources: { yield_to_gpu_apps: "yes" } }, 'resources.yield_to_gpu_apps = "yes" is not valid (expected true or false)'],
      [{ resources: { yield_quiet_secs: -1 } }, "resources.yield_quiet_secs = -1 is not valid (expected a number from 0 to 3600)"],
      [{ resources: { gpu_threshold: 150 } }, "resources.gpu_threshold = 150 is not valid (expected an integer from 1 to 100)"],
      [{ logging: { level: "loud" } }, 'logging.level = "loud" is not valid (expected one of debug, info, warn, error)'],
      [{ worker: { maxjobs: 2 } }, 'unknown key "worker.maxjobs"'],
      [{ server: { url: "http://not-wss" } }, "server.url"],
    ];
    for (const [table, message] of cases) {
      expect(() => validateConfig(table)).toThrow(WorkerConfigError);
      expect(() => validateConfig(table)).toThrow(message);
    }
  });

  test("max_concurrent_jobs: an explicit number still works; auto is the default", () => {
    expect(validateConfig({ worker: { max_concurrent_jobs: 4 } }).worker.max_concurrent_jobs).toBe(4);
    expect(validateConfig({ worker: { max_concurrent_jobs: "auto" } }).worker.max_concurrent_jobs).toBe("auto");
  });

  test("the template written at enrolment reads back; bad TOML is named", () => {
    const file = join(dir, "config.toml");
    writeFileSync(file, configTemplate({ url: "wss://grid.example:8443", apiUrl: "https://grid.example", pin: "abc=", name: "desk" }));
    const c = loadWorkerConfig(file);
    expect(c.server).toEqual({ url: "wss://grid.example:8443", api_url: "https://grid.example", pin: "abc=" });
    expect(c.worker.max_concurrent_jobs).toBe("auto");
    expect(c.resources).toMatchObject({ yield_to_gpu_apps: true, yield_to_fullscreen: true, yield_quiet_secs: 30 });
    writeFileSync(file, "[worker\n");
    expect(() => loadWorkerConfig(file)).toThrow(/is not valid TOML/);
  });

  test("the client id is made once, in a 0600 file", () => {
    const id = clientId(dir);
    expect(clientId(dir)).toBe(id);
    expect(statSync(join(dir, "client-id")).mode & 0o777).toBe(0o600);
  });
});

describe("paths", () => {
  test("XDG on Linux, Application Support on macOS, APPDATA/PROGRAMDATA on Windows, GOGRID_HOME anywhere", () => {
    expect(workerPaths({ HOME: "/home/a" }, "linux").configFile).toBe("/home/a/.config/gogrid/config.toml");
    expect(workerPaths({ HOME: "/home/a", XDG_CONFIG_HOME: "/x", XDG_DATA_HOME: "/d" }, "linux").modelsDir).toBe("/d/gogrid/models");
    expect(workerPaths({ HOME: "/home/a", XDG_RUNTIME_DIR: "/run/user/1" }, "linux").controlEndpoint).toBe(
      "/run/user/1/gogrid/control.sock",
    );
    expect(workerPaths({ HOME: "/Users/a" }, "darwin").configFile).toBe("/Users/a/Library/Application Support/GoGrid/config.toml");
    const win = workerPaths({ USERPROFILE: "C:/Users/a", APPDATA: "C:/Users/a/AppData/Roaming", PROGRAMDATA: "C:/ProgramData" }, "win32");
    expect(win.configFile).toBe(join("C:/Users/a/AppData/Roaming", "GoGrid", "config.toml"));
    expect(win.modelsDir).toBe(join("C:/ProgramData", "GoGrid", "models"));
    expect(win.controlEndpoint.endsWith("control.json")).toBe(true);
    expect(workerPaths({ GOGRID_HOME: "/g" }, "linux").identityDir).toBe("/g/identity");
  });
});

describe("inference threads", () => {
  test("a quarter, half or all but one core by resource mode; never zero", async () => {
    const { threadsFor } = await import("./threads.ts");
    expect([threadsFor("conservative", 16), threadsFor("default", 16), threadsFor("aggressive", 16)]).toEqual([4, 8, 15]);
    expect([threadsFor("conservative", 2), threadsFor("default", 2), threadsFor("aggressive", 2)]).toEqual([1, 1, 1]);
    expect(validateConfig({ worker: { threads: 3 } }).worker.threads).toBe(3);
  });
});

describe("setConfigValue", () => {
  test("changes one key in place, keeps comments and everything else, and refuses a bad value", async () => {
    const { setConfigValue } = await import("./config.ts");
    const file = join(dir, "edit.toml");
    writeFileSync(file, configTemplate({ url: "wss://g:8443", apiUrl: "http://g:8080", pin: "p=", name: "desk" }));
    const before = await Bun.file(file).text();
    setConfigValue(file, "resources", "mode", "aggressive");
    const after = await Bun.file(file).text();
    expect(after).toContain('mode = "aggressive"            # conservative (50% GPU), default (70%), aggressive (95%)');
    expect(after.split("\n").length).toBe(before.split("\n").length);
    expect(after.replace('"aggressive"', '"default"')).toBe(before);
    expect(loadWorkerConfig(file).resources.mode).toBe("aggressive");
    setConfigValue(file, "worker", "threads", 2); // a key not in the file yet
    expect(loadWorkerConfig(file).worker.threads).toBe(2);
    expect(() => setConfigValue(file, "resources", "mode", "turbo")).toThrow(/resources.mode/);
    expect(loadWorkerConfig(file).resources.mode).toBe("aggressive"); // unchanged on error
  });
});
