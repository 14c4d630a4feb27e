// Group commit on SQLite: the repository calls made in one event-loop turn share one transaction.
//
// A commit costs more than the statements of a job step (issue 9: ~40 µs each on this VM's disk,
// four per job), so calls are not committed one by one. The first call of a turn opens a
// transaction (BEGIN IMMEDIATE); each call runs at once inside it, in a savepoint of its own, so a
// call that fails undoes only itself; the turn's transaction commits in setImmediate, and only then
// do the calls' promises settle. Nobody is told of a write before it is committed, as before; a
// busy coordinator gets more calls per commit, an idle one the same latency within a turn.
import type { Database } from "bun:sqlite";
import { DatabaseError, describeCause } from "./errors.ts";

interface Waiter {
  value: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Statement = ReturnType<Database["prepare"]>;

/**
 * Open groups per database file in this process. Two connections to one file in one process (tests
 * run several "instances" so) would wait on each other's write lock forever, since the lock holder
 * commits only when the event loop turns: a group commits the others of its file before it begins.
 */
const openOnFile = new Map<string, Set<GroupCommit>>();

export class GroupCommit {
  #group: Waiter[] | null = null;
  /** Transactions committed so far (tests and benches count commits with it). */
  commits = 0;
  /** While writes are held (pause): the calls made meanwhile, run in order by resume(). */
  #held: (() => void)[] | null = null;
  /** Told when the open transaction has committed (pause waits for it). */
  #onCommit: (() => void)[] = [];
  readonly #sql: Record<"begin" | "commit" | "rollback" | "savepoint" | "release" | "undo", Statement>;
  readonly #peers: Set<GroupCommit> | null;

  /** `file`: the database file (null for ":memory:", which no other connection shares). */
  constructor(
    private readonly client: Database,
    file: string | null,
  ) {
    // prepared once: a statement run from its text is compiled every time
    this.#sql = {
      begin: client.prepare("BEGIN IMMEDIATE"),
      commit: client.prepare("COMMIT"),
      rollback: client.prepare("ROLLBACK"),
      savepoint: client.prepare("SAVEPOINT gogrid_call"),
      release: client.prepare("RELEASE gogrid_call"),
      undo: client.prepare("ROLLBACK TO gogrid_call"),
    };
    if (file === null) {
      this.#peers = null;
    } else {
      this.#peers = openOnFile.get(file) ?? new Set();
      openOnFile.set(file, this.#peers);
    }
  }

  /**
   * Runs `call` now inside this turn's transaction; its promise settles once the transaction has
   * committed (rejects if the commit fails). `call` must not await: what ran after an await would
   * run outside the transaction, so such a call is refused (a programming error, caught by tests).
   */
  run<T>(name: string, call: () => Promise<T>): Promise<T> {
    const held = this.#held;
    if (held) return new Promise<T>((resolve, reject) => held.push(() => this.run(name, call).then(resolve, reject)));
    try {
      return this.#run(name, call);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Holds writes: calls made from now on wait (in order) until resume(). Resolves once this
   * connection holds no transaction, i.e. after the open turn's commit. The checkpointer holds
   * writes for the few milliseconds in which it copies the rest of the WAL, so that the next
   * transaction finds it all copied and starts it again from the beginning (sqlite-checkpoint.ts).
   */
  pause(): Promise<void> {
    this.#held ??= [];
    if (this.#group === null) return Promise.resolve();
    return new Promise<void>((resolve) => this.#onCommit.push(resolve));
  }

  /** Lets writes go again: the calls held meanwhile run now, in the order they were made. */
  resume(): void {
    const held = this.#held;
    this.#held = null;
    for (const call of held ?? []) call();
  }

  /** Whether writes are being held (pause). */
  get paused(): boolean {
    return this.#held !== null;
  }

  #run<T>(name: string, call: () => Promise<T>): Promise<T> {
    if (this.#group === null) {
      if (this.#peers) for (const peer of this.#peers) peer.commit();
      this.#sql.begin.run();
      this.#group = [];
      this.#peers?.add(this);
      setImmediate(() => this.commit());
    }
    this.#sql.savepoint.run();
    let result: Promise<T>;
    try {
      result = call();
    } catch (error) {
      result = Promise.reject(error);
    }
    const status = Bun.peek.status(result);
    if (!this.client.inTransaction) {
      // some errors (disk full, I/O) make SQLite roll the whole transaction back: the turn's other calls are lost too
      this.#abort(`SQLite rolled the transaction back during ${name}`);
      result.catch(() => {});
      return status === "rejected" ? result : Promise.reject(new DatabaseError("db_commit_failed", `SQLite rolled back during ${name}`));
    }
    if (status !== "fulfilled") {
      this.#sql.undo.run();
      this.#sql.release.run();
      if (status === "rejected") return result;
      result.catch(() => {});
      return Promise.reject(new Error(`SQLite repository call ${name} awaited inside the turn's transaction: calls must be synchronous`));
    }
    this.#sql.release.run();
    return this.#settleWithGroup(result);
  }

  #settleWithGroup<T>(done: Promise<T>): Promise<T> {
    const value = Bun.peek(done);
    return new Promise<T>((resolve, reject) => {
      (this.#group as Waiter[]).push({ value, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /**
   * Runs a call that only reads. Outside a group it sees committed data only and settles at once;
   * inside one it may see the turn's uncommitted writes, so it settles with them, after the commit.
   */
  read<T>(call: () => Promise<T>): Promise<T> {
    const result = call();
    if (this.#group === null || Bun.peek.status(result) !== "fulfilled") return result;
    return this.#settleWithGroup(result);
  }

  /** The open transaction is gone without a commit: its calls fail. */
  #abort(why: string, cause?: unknown): void {
    const group = this.#group ?? [];
    this.#group = null;
    this.#peers?.delete(this);
    try {
      if (this.client.inTransaction) this.#sql.rollback.run();
    } catch {
      // the connection is gone: nothing was committed either way
    }
    const failed = new DatabaseError("db_commit_failed", `${why}; ${group.length} call(s) of this turn were not committed`, { cause });
    for (const w of group) w.reject(failed);
    this.#committed(); // no transaction is open any more
  }

  /** Commits the open transaction, if any, and settles its calls. */
  commit(): void {
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    this.#peers?.delete(this);
    try {
      this.#sql.commit.run();
      this.commits++;
    } catch (error) {
      this.#group = group;
      this.#abort(`committing SQLite failed: ${describeCause(error)}`, error);
      return;
    }
    for (const w of group) w.resolve(w.value);
    this.#committed();
  }

  #committed(): void {
    const waiting = this.#onCommit;
    this.#onCommit = [];
    for (const resolve of waiting) resolve();
  }
}
