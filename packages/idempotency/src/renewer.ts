/** One lease being kept alive by a {@link Renewer}. @internal */
export interface Renewal {
  /** When renewal started (ms, local clock). */
  renewStartedAt: number;
  /** Stop renewing after this long. */
  renewMaxMs: number;
  /** When the last renewal was sent (ms, local clock). */
  renewedAt: number;
  /** A renewal is in flight. */
  renewBusy: boolean;
  /** Renewal was stopped (set by {@link Renewer.remove}). */
  renewStopped: boolean;
  /** Index in the renewer's list of new leases, -1 when not in it. */
  renewSlot: number;
  /** Send one renewal; resolves false when the claim was lost. */
  renew(): Promise<boolean>;
  /** Called once when a renewal finds that the claim was lost. */
  renewOnLost: ((renewal: Renewal) => void) | undefined;
  /** Called when a renewal fails (Redis error); renewal goes on. */
  renewOnError: ((error: unknown, renewal: Renewal) => void) | undefined;
}

/**
 * Renews many leases from one timer instead of one timer per request: every `leaseMs / 6` it renews
 * each lease last renewed at least `leaseMs / 3` ago. Adding a lease is an array push and stopping
 * it clears its slot (so a finished request is not kept alive until the next tick): a lease is only
 * moved into the renewal set by the first tick that finds it still running, so the common request
 * that finishes well inside its lease never touches the set. The
 * timer runs only while there is something to renew (it stops at the first tick that finds nothing)
 * and never keeps the process alive.
 */
export class Renewer {
  /** Leases added since the last tick. */
  private young: (Renewal | undefined)[] = [];
  /** Leases still running at a tick. */
  private readonly active = new Set<Renewal>();
  private timer: NodeJS.Timeout | undefined;
  private readonly every: number;
  private readonly due: number;

  constructor(leaseMs: number) {
    this.every = Math.max(5, Math.floor(leaseMs / 6));
    this.due = Math.floor(leaseMs / 3);
  }

  /** Start renewing `renewal` (its `renewStartedAt`, `renewedAt` and `renewMaxMs` set by the caller). */
  add(renewal: Renewal): void {
    renewal.renewStopped = false;
    renewal.renewBusy = false;
    renewal.renewSlot = this.young.length;
    this.young.push(renewal);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.every);
      this.timer.unref();
    }
  }

  /** Stop renewing `renewal` (idempotent). */
  remove(renewal: Renewal): void {
    renewal.renewStopped = true;
    const slot = renewal.renewSlot;
    if (slot >= 0) {
      if (this.young[slot] === renewal) this.young[slot] = undefined;
      renewal.renewSlot = -1;
    }
  }

  private tick(): void {
    // Stopped from the tick, not when the last lease goes: under steady traffic leases come and go
    // between requests, and re-creating the timer each time costs more than a tick.
    const young = this.young;
    if (young.length > 0) {
      this.young = [];
      for (const r of young) {
        if (r === undefined) continue;
        r.renewSlot = -1;
        if (!r.renewStopped) this.active.add(r);
      }
    }
    if (this.active.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = Date.now();
    for (const r of this.active) {
      if (r.renewStopped) {
        this.active.delete(r);
        continue;
      }
      if (now - r.renewStartedAt >= r.renewMaxMs) {
        r.renewStopped = true;
        this.active.delete(r);
        continue;
      }
      if (r.renewBusy || now - r.renewedAt < this.due) continue;
      r.renewBusy = true;
      r.renewedAt = now;
      r.renew().then(
        (owned) => {
          r.renewBusy = false;
          if (!owned && !r.renewStopped) {
            r.renewStopped = true;
            this.active.delete(r);
            r.renewOnLost?.(r);
          }
        },
        (error: unknown) => {
          r.renewBusy = false;
          if (!r.renewStopped) r.renewOnError?.(error, r);
        },
      );
    }
  }
}
