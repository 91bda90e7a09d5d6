// The one keep-alive loop of the Redis-call layer: how leases are renewed on a timer (idempotency's
// leases, seat-lock's hold-expiry claims). What a renewal does and means stays with each package.

/**
 * One lease kept alive by a {@link KeepAlive}. The fields are prefixed `renew` so that an object a
 * package already allocates per lease can implement it (then keeping it alive allocates nothing).
 * @internal
 */
export interface Renewal {
  /** When renewal started (ms, local clock). */
  renewStartedAt: number;
  /** Stop renewing after this long (`Infinity`: until removed). */
  renewMaxMs: number;
  /** When the last renewal was sent (ms, local clock). */
  renewedAt: number;
  /** A renewal is in flight. */
  renewBusy: boolean;
  /** Renewal was stopped (set by {@link KeepAlive.remove}, `renewMaxMs` or a lost lease). */
  renewStopped: boolean;
  /** Index in the loop's list of new leases, -1 when not in it. */
  renewSlot: number;
  /** Send one renewal; resolves `false` (only) when the lease was lost. */
  renew(): Promise<unknown>;
  /** Called once when a renewal finds that the lease was lost. */
  renewOnLost: ((renewal: Renewal) => void) | undefined;
  /** Called when a renewal fails (Redis error) while the lease is kept alive; renewal goes on. */
  renewOnError: ((error: unknown, renewal: Renewal) => void) | undefined;
}

/**
 * Renews many leases from one timer instead of one timer per lease: every `everyMs` it renews each
 * lease last renewed at least `dueMs` ago and not still waiting for its previous renewal (never two
 * renewals of one lease at once). Adding a lease is an array push and removing it clears its slot
 * (so a finished request is not kept alive until the next tick): a lease is only moved into the
 * renewal set by the first tick that finds it still running, so the common lease that ends well
 * inside its first period never touches the set. The timer runs only while there is something to
 * renew (it stops at the first tick that finds nothing) and never keeps the process alive.
 *
 * @example
 * const loop = new KeepAlive(leaseMs / 6, leaseMs / 3);
 * loop.add(lease); // lease implements Renewal
 * loop.remove(lease);
 */
export class KeepAlive {
  /** Leases added since the last tick. */
  #young: (Renewal | undefined)[] = [];
  /** Leases still running at a tick. */
  readonly #active = new Set<Renewal>();
  #timer: NodeJS.Timeout | undefined;
  readonly #every: number;
  readonly #due: number;

  /** `everyMs`: the timer's period; `dueMs`: how long after its last renewal a lease is renewed. */
  constructor(everyMs: number, dueMs: number) {
    this.#every = everyMs;
    this.#due = dueMs;
  }

  /** Start renewing `renewal` (its `renewStartedAt`, `renewedAt` and `renewMaxMs` set by the caller). */
  add(renewal: Renewal): void {
    renewal.renewStopped = false;
    renewal.renewBusy = false;
    renewal.renewSlot = this.#young.length;
    this.#young.push(renewal);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.#every);
      this.#timer.unref();
    }
  }

  /** Stop renewing `renewal` (idempotent); a renewal of it still in flight reports nothing. */
  remove(renewal: Renewal): void {
    renewal.renewStopped = true;
    const slot = renewal.renewSlot;
    if (slot >= 0) {
      if (this.#young[slot] === renewal) this.#young[slot] = undefined;
      renewal.renewSlot = -1;
    }
  }

  /**
   * Stop the loop at once: no renewal is sent after this, of any lease. A renewal still in flight
   * reports its outcome as usual (the leases are not marked stopped).
   */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const r of this.#young) if (r) r.renewSlot = -1;
    this.#young = [];
    this.#active.clear();
  }

  #tick(): void {
    // Stopped from the tick, not when the last lease goes: under steady traffic leases come and go
    // between requests, and re-creating the timer each time costs more than a tick.
    const young = this.#young;
    if (young.length > 0) {
      this.#young = [];
      for (const r of young) {
        if (r === undefined) continue;
        r.renewSlot = -1;
        if (!r.renewStopped) this.#active.add(r);
      }
    }
    if (this.#active.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const r of this.#active) {
      if (r.renewStopped) {
        this.#active.delete(r);
        continue;
      }
      if (now - r.renewStartedAt >= r.renewMaxMs) {
        r.renewStopped = true;
        this.#active.delete(r);
        continue;
      }
      if (r.renewBusy || now - r.renewedAt < this.#due) continue;
      r.renewBusy = true;
      r.renewedAt = now;
      r.renew().then(
        (owned) => {
          r.renewBusy = false;
          if (owned === false && !r.renewStopped) {
            r.renewStopped = true;
            this.#active.delete(r);
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

/**
 * Run `work` while calling `renew` every `everyMs` (never two renewals at once, its result
 * ignored); renewal errors go to `onError`. Renewal stops as soon as `work` settles, whatever its
 * outcome. One loop of its own, so the first renewal comes `everyMs` after the start.
 */
export async function whileRenewing<T>(
  everyMs: number,
  renew: () => Promise<unknown>,
  onError: (error: unknown) => void,
  work: () => Promise<T>,
): Promise<T> {
  const loop = new KeepAlive(everyMs, 0);
  const now = Date.now();
  loop.add({
    renewStartedAt: now,
    renewedAt: now,
    renewMaxMs: Number.POSITIVE_INFINITY,
    renewBusy: false,
    renewStopped: false,
    renewSlot: -1,
    // Its result is not an ownership answer: never taken for a lost lease.
    renew: () => renew().then(() => true),
    renewOnLost: undefined,
    renewOnError: (error) => onError(error),
  });
  try {
    return await work();
  } finally {
    loop.stop();
  }
}
