// Per-statement batching on Postgres (issue 9): the same job step of many jobs in one statement.
//
// Each statement is a round trip, a commit (a WAL flush) and a socket write on both sides; on the
// 2-core VM that, not the SQL, set how many jobs/s one coordinator could run. Calls made while
// `maxInFlight` statements are on their way wait and go together in the next one, so an idle
// coordinator sends each call at once (a batch of one) and a busy one sends fewer, larger
// statements. A statement is atomic: when a batch fails, its calls are tried one by one, so a bad
// call fails alone and the others are not lost.

interface Pending<I, R> {
  item: I;
  resolve(value: R): void;
  reject(error: unknown): void;
}

export class StatementBatcher<I, R> {
  #queue: Pending<I, R>[] = [];
  #inFlight = 0;
  #scheduled = false;
  /** Statements sent so far (tests and benches count them). */
  statements = 0;

  /** `run(items)` answers each item, in order, from one statement. */
  constructor(
    private readonly run: (items: I[]) => Promise<R[]>,
    private readonly maxBatch = 64,
    private readonly maxInFlight = 2,
  ) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  /** Flushes after the current task, so the calls one task makes go in one statement. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      while (this.#inFlight < this.maxInFlight && this.#queue.length > 0) void this.#send(this.#queue.splice(0, this.maxBatch));
    });
  }

  async #send(batch: Pending<I, R>[]): Promise<void> {
    this.#inFlight++;
    try {
      await this.#answer(batch);
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }

  async #answer(batch: Pending<I, R>[]): Promise<void> {
    try {
      this.statements++;
      const results = await this.run(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`a batched statement answered ${results.length} of ${batch.length} calls`);
      for (const [i, p] of batch.entries()) p.resolve(results[i] as R);
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // nothing of the batch was written: each call again on its own, in order, so only a bad one fails
      for (const p of batch) await this.#answer([p]);
    }
  }
}
