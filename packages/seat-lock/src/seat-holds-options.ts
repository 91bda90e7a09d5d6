// The types, options and defaults of SeatHolds (seat-holds.ts), and the record → Hold reading.

import type { Lease } from './lease.js';
import type { SeatLock } from './seat-lock.js';

/** Where a hold is in its life. `expiring`: expiry decided, onExpire running (or to be retried). */
export type HoldState = 'held' | 'confirmed' | 'cancelled' | 'expiring' | 'expired';

/** A hold as stored in Redis (times in ms since epoch, Redis server clock). */
export interface Hold {
  readonly holdId: string;
  readonly resources: readonly string[];
  readonly data: unknown;
  readonly state: HoldState;
  readonly placedAt: number;
  /** What the UI shows as the end of the hold. */
  readonly expiresAt: number;
  /** `expiresAt + graceMs`: confirm is accepted until then; expiry happens from then on. */
  readonly deadline: number;
  /** How many times onExpire was started for this hold (1 normally; more after a crash or error). */
  readonly runs: number;
}

/** What `place` returns. */
export interface PlacedHold {
  readonly holdId: string;
  /** The lease on the seats; it lives until `deadline` plus `lockMarginMs`. */
  readonly lease: Lease;
  readonly expiresAt: number;
  readonly deadline: number;
}

/** Options of {@link SeatHolds}. */
export interface SeatHoldsOptions {
  /** The SeatLock placing the seat locks. @defaultValue `new SeatLock(redis, { prefix })` */
  locks?: SeatLock;
  /** Key prefix (hold records, BullMQ queue `prefix:{holds}`). @defaultValue 'bo' */
  prefix?: string;
  /** Default hold duration shown to the user. @defaultValue 300_000 (5 min) */
  ttlMs?: number;
  /** Default extra time after `expiresAt` during which confirm is still accepted. @defaultValue 10_000 */
  graceMs?: number;
  /** Extra lock lifetime past the deadline, so the seat stays locked until expiry is decided. @defaultValue 5_000 */
  lockMarginMs?: number;
  /** BullMQ queue name. @defaultValue 'seat-holds' */
  queueName?: string;
  /** onExpire callbacks run at once per process. @defaultValue 8 */
  concurrency?: number;
  /**
   * Holds whose deadlines fall in the same window of this length share one BullMQ delayed job,
   * fired at the window's end: expiry starts at most this long after a deadline. @defaultValue 1_000
   */
  wakeupWindowMs?: number;
  /** Period of the sweep that expires holds whose delayed job was lost. @defaultValue 30_000 */
  sweepIntervalMs?: number;
  /**
   * How long a claim on one onExpire run lasts; it is renewed every `claimMs / 3` while onExpire
   * runs, so this is how soon after its process died another process may take the run over.
   * @defaultValue 10_000
   */
  claimMs?: number;
  /** How long a decided hold's record is kept (for `get`, late confirms). @defaultValue 86_400_000 */
  keepMs?: number;
  /** Deadline of each Redis call. @defaultValue 2_000 */
  commandTimeoutMs?: number;
  /** Receives background errors (worker, sweep). @defaultValue emits a process warning */
  onError?: (error: unknown) => void;
}

/** Options of one `place`. */
export interface PlaceOptions {
  /** @defaultValue the SeatHolds' `ttlMs` */
  ttlMs?: number;
  /** @defaultValue the SeatHolds' `graceMs` */
  graceMs?: number;
  /** JSON-serialisable data kept with the hold and handed to onExpire (at most 64 KiB as JSON). */
  data?: unknown;
}

/** Outcome of `confirm`/`cancel`: whether this call decided the hold, and its state now. */
export interface Decision {
  readonly ok: boolean;
  readonly state: HoldState;
}

/** Outcome of `expire`: this call ran onExpire (`expired`), or why not. */
export type ExpireOutcome = 'expired' | 'not-due' | 'running' | 'done';

/** The defaults of {@link SeatHoldsOptions}. */
export const DEFAULTS = Object.freeze({
  locks: undefined as SeatLock | undefined,
  prefix: 'bo',
  ttlMs: 300_000,
  graceMs: 10_000,
  lockMarginMs: 5_000,
  queueName: 'seat-holds',
  concurrency: 8,
  wakeupWindowMs: 1_000,
  sweepIntervalMs: 30_000,
  claimMs: 10_000,
  keepMs: 86_400_000,
  commandTimeoutMs: 2_000,
  onError: ((error: unknown) => {
    process.emitWarning(`@boxoffice/seat-lock SeatHolds: ${String(error)}`);
  }) as (error: unknown) => void,
});
/** The longest time a timer or PX accepts. */
export const MAX_MS = 2 ** 31 - 1;

/** A hold from its record's fields (HGETALL). */
export function toHold(holdId: string, flat: Record<string, string>): Hold {
  return Object.freeze({
    holdId,
    resources: Object.freeze(JSON.parse(flat.resources ?? '[]') as string[]),
    data: JSON.parse(flat.data ?? 'null') as unknown,
    state: (flat.state ?? 'held') as HoldState,
    placedAt: Number(flat.placedAt),
    expiresAt: Number(flat.expiresAt),
    deadline: Number(flat.deadline),
    runs: Number(flat.runs ?? 0),
  });
}
