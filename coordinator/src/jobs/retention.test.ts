// pruneFinishedJobs: finished jobs past the retention go, batch by batch, the rest stay.
import { describe, expect, test } from "bun:test";
import { completedJob, newJob } from "../db/suite/context.ts";
import { freshSqlite } from "../db/testing.ts";
import { DAY_MS, pruneFinishedJobs } from "./retention.ts";

const NOW = 100 * DAY_MS;

async function completed(repo: ReturnType<typeof freshSqlite>, id: string, endedAt: number): Promise<void> {
  expect((await completedJob(repo, id, endedAt - 10, endedAt))?.status).toBe("completed");
}

describe("pruneFinishedJobs", () => {
  test("deletes jobs that ended more than the retention ago, in batches, up to maxBatches a call", async () => {
    const repo = freshSqlite();
    for (let i = 0; i < 23; i++) await completed(repo, `old-${i}`, NOW - 31 * DAY_MS + i);
    await completed(repo, "recent", NOW - 29 * DAY_MS);
    await repo.enqueueJob(newJob("queued-old", NOW - 60 * DAY_MS));

    // 23 to go, 5 a batch, 2 batches a call: 10, 10, then the last 3 (a short batch ends the call)
    expect(await pruneFinishedJobs(repo, NOW, 30 * DAY_MS, { batch: 5, maxBatches: 2 })).toBe(10);
    expect(await pruneFinishedJobs(repo, NOW, 30 * DAY_MS, { batch: 5, maxBatches: 2 })).toBe(10);
    expect(await pruneFinishedJobs(repo, NOW, 30 * DAY_MS, { batch: 5, maxBatches: 2 })).toBe(3);
    expect(await pruneFinishedJobs(repo, NOW, 30 * DAY_MS, { batch: 5, maxBatches: 2 })).toBe(0);
    expect((await repo.listJobs()).map((j) => j.id).sort()).toEqual(["queued-old", "recent"]);
    await repo.close();
  });

  test("a retention of 0 keeps everything", async () => {
    const repo = freshSqlite();
    await completed(repo, "ancient", 1_000);
    expect(await pruneFinishedJobs(repo, NOW, 0)).toBe(0);
    expect(await repo.getJob("ancient")).not.toBeNull();
    await repo.close();
  });
});
