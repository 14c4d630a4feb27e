// StatementBatcher: the calls of one task in one statement, at most maxInFlight at once, a bad call failing alone.
import { expect, test } from "bun:test";
import { StatementBatcher } from "./pg-batch.ts";

/** A fake statement: records each batch; answers on release() (all at once) or at once. */
function fakeStatement(opts: { hold?: boolean; bad?: number } = {}) {
  const batches: number[][] = [];
  const held: (() => void)[] = [];
  const run = (items: number[]) => {
    batches.push(items);
    const answer = () => {
      if (opts.bad !== undefined && items.includes(opts.bad)) throw new Error(`bad item ${opts.bad}`);
      return items.map((n) => n * 10);
    };
    if (!opts.hold) return Promise.resolve().then(answer);
    return new Promise<number[]>((resolve, reject) =>
      held.push(() => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      }),
    );
  };
  return {
    batches,
    run,
    release: () => {
      for (const f of held.splice(0)) f();
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

test("the calls one task makes go in one statement; each gets its own answer", async () => {
  const s = fakeStatement();
  const b = new StatementBatcher(s.run);
  const answers = await Promise.all([1, 2, 3].map((n) => b.add(n)));
  expect(answers).toEqual([10, 20, 30]);
  expect(s.batches).toEqual([[1, 2, 3]]);
  expect(await b.add(4)).toBe(40);
  expect(b.statements).toBe(2);
});

test("at most maxInFlight statements at once; calls made meanwhile wait and go together, at most maxBatch each", async () => {
  const s = fakeStatement({ hold: true });
  const b = new StatementBatcher(s.run, 3, 2);
  const first = b.add(1);
  await turn();
  const second = b.add(2);
  await turn();
  const rest = [3, 4, 5, 6, 7].map((n) => b.add(n));
  await turn();
  expect(s.batches).toEqual([[1], [2]]); // two in flight: the rest wait
  s.release();
  expect(await Promise.all([first, second])).toEqual([10, 20]);
  await turn();
  expect(s.batches.slice(2)).toEqual([
    [3, 4, 5],
    [6, 7],
  ]);
  s.release();
  expect(await Promise.all(rest)).toEqual([30, 40, 50, 60, 70]);
});

test("a failing batch is tried call by call, in order: only the bad call fails", async () => {
  const s = fakeStatement({ bad: 3 });
  const b = new StatementBatcher(s.run);
  const settled = await Promise.allSettled([1, 2, 3, 4].map((n) => b.add(n)));
  expect(settled.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual([10, 20, "bad item 3", 40]);
  expect(s.batches).toEqual([[1, 2, 3, 4], [1], [2], [3], [4]]);
});

test("a statement that answers the wrong number of calls counts as failed", async () => {
  const b = new StatementBatcher(async (items: number[]) => (items.length > 1 ? [1] : [items[0]! * 10]));
  expect(await Promise.all([1, 2].map((n) => b.add(n)))).toEqual([10, 20]);
  const lone = new StatementBatcher(async () => [] as number[]);
  await expect(lone.add(1)).rejects.toThrow("answered 0 of 1 calls");
});
