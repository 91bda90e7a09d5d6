/** Something waiting for an answer until `deadline` (ms, local clock). */
export interface Deadline {
  readonly deadline: number;
  /** Set once the entry is settled (by its answer or by the deadline). */
  settled: boolean;
  /** Called once, by the sweep, when the deadline passed without an answer. */
  expire(error: Error): void;
}

/**
 * Expires waiting entries whose deadline passed, from one timer shared by all of them (a timer
 * per Redis call costs more than the call's own bookkeeping under load). An entry expires between
 * `ms` and `1.25 × ms` after it was started. The timer runs only while something is pending and
 * never keeps the process alive. Entries are plain objects with an `expire` method, so tracking a
 * call allocates no closure and no extra promise. (A generic helper: a candidate for
 * @boxoffice/internal.)
 */
export class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  private readonly every: number;

  constructor(readonly ms: number) {
    this.every = Math.max(1, Math.ceil(ms / 4));
  }

  /** Track `entry` until {@link finish} or its deadline. */
  start(entry: Deadline): void {
    this.pending.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.every);
      this.timer.unref();
    }
  }

  /** Settle `entry` by its answer: true if it was still waiting, false if it had already expired. */
  finish(entry: Deadline): boolean {
    if (entry.settled) return false;
    entry.settled = true;
    this.pending.delete(entry);
    return true;
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const entry of this.pending) {
      if (entry.deadline > now) continue;
      this.pending.delete(entry);
      entry.settled = true;
      entry.expire(new Error(`no answer within ${this.ms} ms`));
    }
  }
}
