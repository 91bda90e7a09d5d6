/** One lease being kept alive by a {@link Renewer}. */
export interface Renewal {
  /** When renewal started (ms, local clock). */
  readonly startedAt: number;
  /** Stop renewing after this long. */
  readonly maxMs: number;
  /** When the last renewal was sent (ms, local clock). */
  renewedAt: number;
  /** A renewal is in flight. */
  busy: boolean;
  /** Send one renewal; resolves false when the claim was lost. */
  renew(): Promise<boolean>;
  onLost?: (() => void) | undefined;
  onError?: ((error: unknown) => void) | undefined;
}

/**
 * Renews many leases from one timer instead of one timer per request: every `leaseMs / 6` it renews
 * each lease last renewed at least `leaseMs / 3` ago. The timer runs only while there is something
 * to renew (it stops at the first tick that finds nothing) and never keeps the process alive.
 */
export class Renewer {
  private readonly active = new Set<Renewal>();
  private timer: NodeJS.Timeout | undefined;
  private readonly every: number;

  constructor(private readonly leaseMs: number) {
    this.every = Math.max(5, Math.floor(leaseMs / 6));
  }

  /** Start renewing; the returned function stops it. */
  add(renewal: Renewal): () => void {
    this.active.add(renewal);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.every);
      this.timer.unref();
    }
    return () => this.remove(renewal);
  }

  private remove(renewal: Renewal): void {
    this.active.delete(renewal);
  }

  private tick(): void {
    // Stopped from the tick, not when the last lease goes: under steady traffic the set empties
    // and refills between requests, and re-creating the timer each time costs more than a tick.
    if (this.active.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    const due = Math.floor(this.leaseMs / 3);
    for (const r of this.active) {
      if (now - r.startedAt >= r.maxMs) {
        this.remove(r);
        continue;
      }
      if (r.busy || now - r.renewedAt < due) continue;
      r.busy = true;
      r.renewedAt = now;
      r.renew().then(
        (owned) => {
          r.busy = false;
          if (!owned && this.active.has(r)) {
            this.remove(r);
            r.onLost?.();
          }
        },
        (error: unknown) => {
          r.busy = false;
          if (this.active.has(r)) r.onError?.(error);
        },
      );
    }
  }
}
