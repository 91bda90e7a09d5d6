interface Pending {
  readonly deadline: number;
  readonly what: string;
  reject(error: Error): void;
}

/**
 * Rejects promises that have not settled by their deadline, from one timer shared by all of them
 * (a timer per Redis call costs more than the call's own bookkeeping under load). A promise is
 * rejected between `ms` and `1.25 × ms` after it was added. The timer runs only while something
 * is pending and never keeps the process alive. (A generic helper: a candidate for
 * @boxoffice/internal.)
 */
export class Deadlines {
  private readonly pending = new Set<Pending>();
  private timer: NodeJS.Timeout | undefined;
  private readonly every: number;

  constructor(private readonly ms: number) {
    this.every = Math.max(1, Math.ceil(ms / 4));
  }

  /** Settle with `promise`, or reject with an `Error` naming `what` once the deadline passes. */
  race<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: Date.now() + this.ms, what, reject };
      this.pending.add(entry);
      if (!this.timer) {
        this.timer = setInterval(() => this.sweep(), this.every);
        this.timer.unref();
      }
      promise.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(entry);
          reject(error);
        },
      );
    });
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
      entry.reject(new Error(`${entry.what}: no answer within ${this.ms} ms`));
    }
  }
}
