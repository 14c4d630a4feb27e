// PgBus over a fake LISTEN/NOTIFY: own events in-process, others' by NOTIFY, batched, in order, no echo.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import { freshPostgresUrl, postgresTestsDisabled } from "../db/testing.ts";
import { type BusEvent, PgBus, type PgNotifier, splitForBus } from "./bus.ts";

/** One channel shared by several "instances"; every NOTIFY reaches every listener (the sender too), as Postgres does. */
function fakePostgres() {
  const listeners = new Set<(payload: string) => void>();
  const payloads: string[] = [];
  let delayMs = 0;
  let fail: Error | null = null;
  const client = (): PgNotifier => ({
    async listen(_channel, onNotify) {
      listeners.add(onNotify);
      return { unlisten: async () => void listeners.delete(onNotify) };
    },
    async notify(_channel, payload) {
      if (fail) throw fail;
      if (Buffer.byteLength(payload) >= 8000) throw new Error("payload string too long");
      await Bun.sleep(delayMs);
      payloads.push(payload);
      for (const l of listeners) l(payload);
    },
  });
  return {
    client,
    payloads,
    slow: (ms: number) => {
      delayMs = ms;
    },
    failWith: (e: Error | null) => {
      fail = e;
    },
    raw: (payload: string) => {
      for (const l of listeners) l(payload);
    },
  };
}

const chunk = (jobId: string, seq: number, text = "x"): BusEvent => ({
  kind: "job_event",
  jobId,
  event: { type: "chunk", attempt: 1, seq, text },
});

function heard(bus: PgBus): BusEvent[] {
  const got: BusEvent[] = [];
  bus.subscribe((e) => got.push(e));
  return got;
}

describe("PgBus", () => {
  test("the sender hears its own events in-process, once; the other instance by NOTIFY, in order", async () => {
    const pg = fakePostgres();
    const a = await PgBus.open(pg.client());
    const b = await PgBus.open(pg.client());
    const atA = heard(a);
    const atB = heard(b);
    const events = Array.from({ length: 50 }, (_, i) => chunk("j1", i));
    await Promise.all(events.map((e) => a.publish(e)));
    expect(atA).toEqual(events);
    expect(atB).toEqual(events);
    expect(pg.payloads.length).toBe(1); // one task's events: one NOTIFY
    await a.close();
    await b.close();
  });

  test("a local-only event is heard in-process, in order with the others, and sent to no other instance", async () => {
    const pg = fakePostgres();
    const a = await PgBus.open(pg.client());
    const b = await PgBus.open(pg.client());
    const atA = heard(a);
    const atB = heard(b);
    await a.publish(chunk("j1", 0), { localOnly: true });
    await a.publish({ kind: "job_available" });
    await a.publish(chunk("j1", 1), { localOnly: true });
    await Bun.sleep(5);
    expect(atA).toEqual([chunk("j1", 0), { kind: "job_available" }, chunk("j1", 1)]);
    expect(atB).toEqual([{ kind: "job_available" }]);
    expect(pg.payloads.map((x) => JSON.parse(x).e)).toEqual([[{ kind: "job_available" }]]);
    await a.close();
    await b.close();
  });

  test("events published while a NOTIFY is on its way go together in the next; payloads stay under the limit", async () => {
    const pg = fakePostgres();
    pg.slow(20);
    const a = await PgBus.open(pg.client());
    const b = await PgBus.open(pg.client());
    const atB = heard(b);
    const sent: BusEvent[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) {
        const e = chunk("j2", round * 40 + i, "y".repeat(150));
        sent.push(e);
        void a.publish(e);
      }
      await Bun.sleep(5);
    }
    await a.publish({ kind: "job_finished", jobId: "j2" });
    expect(atB).toEqual([...sent, { kind: "job_finished", jobId: "j2" }]);
    expect(pg.payloads.length).toBeLessThan(sent.length / 4);
    for (const p of pg.payloads) expect(Buffer.byteLength(p)).toBeLessThan(8000);
    await a.close();
    await b.close();
  });

  test("a payload from an instance not yet upgraded (a bare event) is still heard; garbage is ignored", async () => {
    const pg = fakePostgres();
    const b = await PgBus.open(pg.client());
    const atB = heard(b);
    pg.raw(JSON.stringify({ kind: "job_available" }));
    pg.raw("not json");
    expect(atB).toEqual([{ kind: "job_available" }]);
    await b.close();
  });

  test("a failed NOTIFY rejects the publishers that wait; a too-large event is refused before anything", async () => {
    const pg = fakePostgres();
    const a = await PgBus.open(pg.client());
    const atA = heard(a);
    pg.failWith(new Error("connection lost"));
    await expect(a.publish({ kind: "job_available" })).rejects.toThrow("connection lost");
    pg.failWith(null);
    await expect(a.publish(chunk("j3", 0, "z".repeat(8000)))).rejects.toThrow("too large");
    await a.publish(chunk("j3", 0, splitForBus("z".repeat(8000))[0]));
    expect(atA.map((e) => e.kind)).toEqual(["job_available", "job_event"]);
    await a.close();
  });
});

const pgOff = postgresTestsDisabled();
if (pgOff) console.log(`bus.test.ts: the real Postgres case is skipped: ${pgOff}`);

describe.skipIf(pgOff !== null)("PgBus on Postgres", () => {
  test("two instances: 300 chunks arrive at the other in order, in far fewer NOTIFYs; no echo", async () => {
    const db = await freshPostgresUrl();
    const clients = [postgres(db.url, { max: 2, onnotice: () => {} }), postgres(db.url, { max: 2, onnotice: () => {} })];
    let notifies = 0;
    const open = (sql: postgres.Sql) =>
      PgBus.open({
        listen: (channel, fn) => sql.listen(channel, fn),
        notify: (channel, payload) => {
          notifies++;
          return sql.notify(channel, payload);
        },
      });
    try {
      const [a, b] = [await open(clients[0] as postgres.Sql), await open(clients[1] as postgres.Sql)];
      const atA = heard(a);
      const atB = heard(b);
      const sent = Array.from({ length: 300 }, (_, i) => chunk("pg", i, `t${i}`));
      for (const e of sent) void a.publish(e);
      await a.publish({ kind: "job_finished", jobId: "pg" });
      const deadline = Date.now() + 5000;
      while (atB.length < 301 && Date.now() < deadline) await Bun.sleep(10);
      expect(atB).toEqual([...sent, { kind: "job_finished", jobId: "pg" }]);
      expect(atA.length).toBe(301);
      expect(notifies).toBeLessThan(30);
      await a.close();
      await b.close();
    } finally {
      for (const c of clients) await c.end({ timeout: 2 });
      await db.drop();
    }
  });
});
