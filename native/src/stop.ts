// Stop strings over a token stream: holds back text that might be the start of a stop string.

export class StopMatcher {
  private pending = "";

  constructor(private readonly stops: readonly string[]) {}

  /**
   * Adds text; returns what can be emitted now and whether a stop string was hit (in which case
   * the emitted text ends right before it and the rest is dropped).
   */
  push(text: string): { emit: string; stopped: boolean } {
    this.pending += text;
    if (this.stops.length === 0) {
      const emit = this.pending;
      this.pending = "";
      return { emit, stopped: false };
    }
    let first = -1;
    for (const s of this.stops) {
      const i = this.pending.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    if (first >= 0) {
      const emit = this.pending.slice(0, first);
      this.pending = "";
      return { emit, stopped: true };
    }
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }

  /** The held-back text, at the end of generation. */
  flush(): string {
    const rest = this.pending;
    this.pending = "";
    return rest;
  }
}
