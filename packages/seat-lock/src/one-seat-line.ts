import type { CallGuard, RedisClient, TickScript } from '@boxoffice/internal';
import { DeferredJoins } from './deferred-joins.js';
import type { SeatLockRedisError } from './errors.js';
import type { ResourceKeys } from './resources.js';

/** How long a one-seat waiter of a SeatLock that holds the seat may wait before it joins the Redis line. */
const JOIN_BATCH_MS = 20;
/** Most seats remembered per set (hot seats, held seats): a bound on memory, not a tuning knob. */
const MAX_REMEMBERED = 10_000;

/** A one-seat attempt that stopped at the line: the seat, and how long its holder has left (-1 unknown). */
export interface InLine {
  ok: false;
  resource: string;
  holder: null;
  pttl: number;
}

/**
 * The single-Redis fast path of one-seat acquisitions (wake-up mode only). A seat this instance
 * found taken lately is joined with one plain `RPUSH` instead of the script; waiters for a seat this
 * instance holds itself join its line together (DeferredJoins), and our release offers the seat to
 * the first of them when the Redis line is empty.
 */
export class OneSeatLine {
  readonly #client: RedisClient;
  readonly #batcher: TickScript<SeatLockRedisError>;
  readonly #guard: CallGuard<SeatLockRedisError>;
  // Lock keys this instance last found taken: its next one-seat acquire joins the line first.
  readonly #hot = new Set<string>();
  // Lock key -> expiresAt of the one-seat lease this instance holds on it (waiters then join in batches).
  readonly #held = new Map<string, number>();
  readonly #deferred: DeferredJoins;

  constructor(
    client: RedisClient,
    batcher: TickScript<SeatLockRedisError>,
    guard: CallGuard<SeatLockRedisError>,
  ) {
    this.#client = client;
    this.#batcher = batcher;
    this.#guard = guard;
    this.#deferred = new DeferredJoins((wait, entries, ttlMs) => {
      return this.#guard
        .run(client, 'acquire', () => batcher.send(() => client.rpush(wait, ...entries)))
        .then(async (n) => {
          // A new list: give it its TTL (garbage collection for entries of waiters that died).
          if (n === entries.length) {
            await this.#guard.run(client, 'acquire', () => client.pexpire(wait, ttlMs));
          }
        });
    }, JOIN_BATCH_MS);
  }

  /** This instance now holds the one-seat lock `lock` until `expiresAt`. */
  held(lock: string, expiresAt: number): void {
    if (this.#held.size >= MAX_REMEMBERED) this.#held.clear();
    this.#held.set(lock, expiresAt);
  }

  /** This instance released the one-seat lock `lock`. */
  released(lock: string): void {
    this.#held.delete(lock);
  }

  /** The seat `lock` was taken when we tried it. */
  taken(lock: string): void {
    if (this.#hot.size >= MAX_REMEMBERED) this.#hot.clear();
    this.#hot.add(lock);
  }

  /** We got the seat `lock`. */
  won(lock: string): void {
    this.#hot.delete(lock);
  }

  /** True when `token` still waited in this instance's batch of joins for `lock`; takes it out. */
  take(lock: string, token: string): boolean {
    return this.#deferred.take(lock, token);
  }

  /**
   * Before a one-seat attempt in line (`queueTtl` > 0): joins the line of a hot seat not yet in
   * `queued`. Returns where the attempt stops (in line behind others), `true` when the caller
   * joined and is alone in line (the seat may be free: try it), `false` to try as usual.
   */
  async join(
    only: ResourceKeys,
    token: string,
    entry: string,
    queueTtl: number,
    queued: Set<string>,
  ): Promise<InLine | boolean> {
    // Still waiting in this instance's batch of joins: leave it, and try (or join) ourselves.
    if (this.#deferred.take(only.lock, token)) queued.delete(only.lock);
    if (queueTtl <= 0 || queued.has(only.lock) || !this.#hot.has(only.lock)) return false;
    // Seen contended lately: join the line with one plain command; only a caller alone in it
    // needs the script (the seat may be free). Those in line before us are served first anyway.
    const heldUntil = this.#held.get(only.lock) ?? 0;
    const now = Date.now();
    if (heldUntil > now) {
      // This instance holds the seat: join with the next batch (one RPUSH for all of them,
      // JOIN_BATCH_MS later at most); our own release hands the seat to us if the line is empty.
      this.#deferred.add(only.lock, only.wait, token, entry, now + queueTtl);
      queued.add(only.lock);
      return { ok: false, resource: only.resource, holder: null, pttl: heldUntil - now };
    }
    const client = this.#client;
    const n = await this.#guard.run(client, 'acquire', () =>
      this.#batcher.send(() => client.rpush(only.wait, entry)),
    );
    queued.add(only.lock);
    if (n > 1) return { ok: false, resource: only.resource, holder: null, pttl: -1 };
    return true;
  }

  /** The entry of our first waiter for `lock` not yet in the Redis line, offered to a release. */
  offer(lock: string): string | undefined {
    return this.#deferred.offer(lock);
  }

  /** The release the entry was offered to ended: `consumed` when it got the seat, undefined on failure. */
  settle(lock: string, offered: string, consumed: boolean | undefined): void {
    this.#deferred.settle(lock, offered, consumed);
  }

  /** Drops the batched joins (on close). */
  clear(): void {
    this.#deferred.clear();
  }
}
