// The rows every job looks up (its model for job_assignment and admission, its model's price for
// the credit) kept for a second, so a job does not pay a query for each (issue 9: two of the six
// Postgres round trips per job). A repository drops an entry when it writes that row itself, so
// its own process sees a change at once; a change made elsewhere (gogrid-admin, another
// coordinator instance) is seen within `ttlMs`.

/** Entries kept at most (then all are dropped): far more models than a grid serves. */
const MAX_ENTRIES = 1000;

interface Entry<V> {
  value: V;
  at: number;
}

export class LookupCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  /** Bumped by every delete/clear: a load that started before one is not stored (it may predate the write). */
  #generation = 0;

  /**
   * `keep(value)`: whether a loaded value may be reused (a missing model is not: the next lookup
   * reads again, so a model added elsewhere is found at once).
   */
  constructor(
    private readonly ttlMs = 1000,
    private readonly keep: (value: V) => boolean = () => true,
  ) {}

  /** The cached value, or `load()`'s (stored when `keep` allows). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.#fresh(key);
    if (hit !== undefined) return Promise.resolve(hit.value);
    const store = this.#storer(key);
    return load().then(store);
  }

  /** get() for a synchronous load (SQLite): the answer is there at once. */
  getSync(key: string, load: () => V): V {
    return (this.#fresh(key) ?? { value: this.#storer(key)(load()) }).value;
  }

  #fresh(key: string): Entry<V> | undefined {
    const hit = this.#entries.get(key);
    return hit !== undefined && Date.now() - hit.at < this.ttlMs ? hit : undefined;
  }

  /** Stores what a load started now gives, unless a delete came between. */
  #storer(key: string): (value: V) => V {
    const generation = this.#generation;
    const at = Date.now();
    return (value) => {
      if (this.ttlMs > 0 && generation === this.#generation && this.keep(value)) {
        if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
        this.#entries.set(key, { value, at });
      }
      return value;
    };
  }

  /** Forget `key` (its row was just written). */
  delete(key: string): void {
    this.#generation++;
    this.#entries.delete(key);
  }
}
