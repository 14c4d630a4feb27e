// gogrid-admin prices and earnings against a data folder's SQLite database (no coordinator running).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openRepository } from "../db/open.ts";
import { formatTzOffset, parseTzOffset } from "./actions.ts";
import { runAdmin } from "./main.ts";

const dataDir = mkdtempSync(join(tmpdir(), "gogrid-admin-earnings-"));
const YEAR = 366 * 86_400_000;

async function admin(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAdmin(
    ["bun", "gogrid-admin", "--data-dir", dataDir, ...args],
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

beforeAll(async () => {
  const repo = await openRepository(join(dataDir, "gogrid.db"));
  try {
    await repo.createWorker({ nodeId: "n1", clientId: null, name: "box", ownerId: "alice" }, 1);
    await repo.createWorker({ nodeId: "n2", clientId: null, name: "rig", ownerId: "alice" }, 1);
    const credit = (jobId: string, nodeId: string, amountMicros: number, at: number) =>
      repo.creditLedger({ jobId, nodeId, ownerId: "alice", model: "tiny", promptTokens: 1, completionTokens: 1, amountMicros, at });
    // Credited "now" counts in every period whatever the zone; a year ago only in the total.
    await credit("j-now", "n1", 1_500_000, Date.now());
    await credit("j-old", "n1", 250_000, Date.now() - YEAR);
    await credit("j-n2", "n2", 7, Date.now() - YEAR);
  } finally {
    await repo.close();
  }
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("gogrid-admin prices", () => {
  test("set, replace and list; amounts are exact decimals", async () => {
    expect((await admin("prices", "list")).out).toBe("(none)");
    const set = await admin("prices", "set", "tiny", "--per-1k", "0.002");
    expect(set).toMatchObject({ code: 0, err: "" });
    expect(set.out).toBe("price of tiny: 0.002 USD per 1000 generated tokens, 0 per 1000 prompt tokens");
    expect((await admin("prices", "set", "big", "--per-1k", "1.5", "--prompt-per-1k", "0.000333")).code).toBe(0);
    expect((await admin("prices", "set", "tiny", "--per-1k", "0.0025")).code).toBe(0);

    const listed = (await admin("prices", "list")).out.split("\n").map((l) => l.trim().split(/\s+/));
    expect(listed).toEqual([
      ["MODEL", "PER_1K", "PROMPT_PER_1K", "CURRENCY"],
      ["big", "1.5", "0.000333", "USD"],
      ["tiny", "0.0025", "0", "USD"],
    ]);

    const repo = await openRepository(join(dataDir, "gogrid.db"));
    try {
      expect(await repo.getPrice("big")).toEqual({ modelId: "big", completionMicrosPer1k: 1_500_000, promptMicrosPer1k: 333 });
    } finally {
      await repo.close();
    }
  });

  test("bad values are named and exit 2; nothing is changed", async () => {
    for (const [args, message] of [
      [["--per-1k", "-1"], '--per-1k: invalid amount "-1"'],
      [["--per-1k", "abc"], '--per-1k: invalid amount "abc"'],
      [["--per-1k", "0.0000001"], "at most 6 decimal places"],
      [["--per-1k", "1", "--prompt-per-1k", "1e3"], '--prompt-per-1k: invalid amount "1e3"'],
      [["--per-1k", "99999999999"], "at most 9007199254.740991"],
    ] as const) {
      const r = await admin("prices", "set", "tiny", ...args);
      expect(r.code).toBe(2);
      expect(r.err).toContain(message);
    }
    expect((await admin("prices", "set", "bad id!", "--per-1k", "1")).err).toContain('invalid model id "bad id!"');
    const missing = await admin("prices", "set", "tiny");
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("--per-1k");
    expect((await admin("prices", "list")).out).toContain("0.0025");
  });
});

describe("gogrid-admin earnings", () => {
  test("per node, per owner and overall; periods in the given zone", async () => {
    const node = await admin("earnings", "--node", "n1", "--tz-offset", "60");
    expect(node).toMatchObject({ code: 0, err: "" });
    expect(node.out.split("\n")).toEqual([
      "earnings of node n1 in USD, periods in UTC+01:00",
      "today  1.5",
      "week   1.5",
      "month  1.5",
      "total  1.75",
    ]);
    const owner = await admin("earnings", "--owner", "alice", "--tz-offset", "-330");
    expect(owner.out).toContain("periods in UTC-05:30");
    expect(owner.out).toContain("total  1.750007");
    expect((await admin("earnings", "--owner", "bob", "--tz-offset", "0")).out).toContain("total  0");
    const all = await admin("earnings");
    expect(all.code).toBe(0);
    expect(all.out).toContain("earnings of all workers");
    expect(all.out).toContain("total  1.750007");
  });

  test("bad values are named and exit 2", async () => {
    for (const tz of ["abc", "1.5", "1441", "60m", ""]) {
      const r = await admin("earnings", "--tz-offset", tz);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`--tz-offset: invalid offset "${tz}"`);
    }
    const r = await admin("earnings", "--node", "nobody");
    expect(r.code).toBe(2);
    expect(r.err).toContain("no worker with node id nobody");
  });

  test("tz offsets parse and print", () => {
    expect(parseTzOffset("+330")).toBe(330);
    expect(parseTzOffset("-300")).toBe(-300);
    expect(parseTzOffset(undefined, Date.UTC(2024, 0, 1))).toBe(-new Date(Date.UTC(2024, 0, 1)).getTimezoneOffset() || 0);
    expect(formatTzOffset(0)).toBe("+00:00");
    expect(formatTzOffset(-570)).toBe("-09:30");
    expect(formatTzOffset(345)).toBe("+05:45");
  });
});
