// The soak suite's short version: workers dropped mid-job, nothing lost, duplicated or credited twice.
import { expect, setDefaultTimeout, test } from "bun:test";
import { postgresTestsDisabled } from "../coordinator/src/db/testing.ts";
import { soak } from "./soak.ts";

setDefaultTimeout(120_000);

for (const postgres of [false, true]) {
  test(`soak --quick on ${postgres ? "Postgres" : "SQLite"}: 0 lost, 0 duplicated, 0 double credits with workers dropped mid-job`, async () => {
    if (postgres && postgresTestsDisabled()) throw new Error(`Postgres is needed: ${postgresTestsDisabled()}`);
    const r = await soak({ jobs: 150, workers: 4, concurrency: 8, dropEveryMs: 40, postgres });
    expect(r.workers_dropped).toBeGreaterThan(0);
    expect(r).toMatchObject({ accepted: 150, lost: 0, duplicated: 0, wrong: 0, double_credited: 0 });
    expect(r.completed + r.failed_visibly).toBe(150);
  });
}
