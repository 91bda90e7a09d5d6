import type { RoomSettings } from './room-settings.js';

/** A user in the line. */
export interface WaitingStatus {
  state: 'waiting';
  /** 1 = next to be admitted. */
  position: number;
  /** Everyone waiting (line + pre-queue). */
  total: number;
  /**
   * Estimated wait: position ÷ the admission pace of the current streak of admitting (up to the
   * last minute); for the first 10 s after admissions start or resume, the full pace
   * (`admitPerTick` per `tickMs`), so it errs short.
   */
  etaMs: number;
  /**
   * When to call `heartbeat()` next: a quarter of `etaMs`, at least `tickMs`, at most
   * `maxPollAfterMs` (in a `'random'`-order room at most a third of `heartbeatTimeoutMs`: anyone may
   * be picked next). The room evicts the waiter only after `pollAfterMs + heartbeatTimeoutMs` of
   * silence, so a client that obeys is never evicted.
   */
  pollAfterMs: number;
  /** The user's ticket number (0 while in the pre-queue); compare with `PositionEvent.servingTicket`. */
  ticket: number;
  /** True while the user is in the pre-queue (its position may still change until `startsAt`). */
  preQueue: boolean;
  /**
   * Admissions are paused ({@link WaitingRoom.pause}): the place is kept, `etaMs` is what it would
   * be once they resume, and `pollAfterMs` is at least a third of `heartbeatTimeoutMs` (capped by
   * `maxPollAfterMs`).
   */
  paused: boolean;
}

/** A user admitted to the booking area. */
export interface ActiveStatus {
  state: 'active';
  /** `queue_entry` JWT (aud = roomId, sub = userId); the same `jti` on every call. */
  token: string;
  /** Expiry to show in the UI (epoch ms); the server accepts until `expiresAt + graceMs`. */
  expiresAt: number;
  jti: string;
}

/** Neither waiting nor active: never joined, left, evicted, expired, or the room is closed. */
export interface UnknownStatus {
  state: 'unknown';
}

/** What `join()` returns. */
export type JoinResult = WaitingStatus | ActiveStatus;
/** What `heartbeat()` and `status()` return. */
export type RoomStatus = WaitingStatus | ActiveStatus | UnknownStatus;

/** What one admission round did. */
export interface TickResult {
  /** Sequence number of this round in the room (strictly increasing across all instances). */
  tick: number;
  /** Redis time of the round (epoch ms). */
  at: number;
  admitted: { userId: string; expiresAt: number; jti: string }[];
  /** Waiters evicted for silence. */
  evicted: string[];
  /** Active users whose `expiresAt + graceMs` passed. */
  expired: string[];
  /** Lowest ticket still waiting (0 if none). */
  servingTicket: number;
  waiting: number;
  /** Active users after the round; never above `maxActive`. */
  active: number;
  /** The room was paused ({@link WaitingRoom.pause}): this round admitted nobody. */
  paused: boolean;
  /** The settings this round used (the stored overrides of `configure()` over the options). */
  settings: RoomSettings;
}

/**
 * How long the users admitted during the last minute (the same 10-second buckets as
 * `admittedPerMin`, as of the last tick) waited, from joining the line to admission. Exact to one
 * tick (a join is dated by the first tick after it; pre-queue users from the first tick after
 * `startsAt`); the quantiles are bins a quarter octave wide (±9 %).
 */
export interface WaitTimes {
  /** Median wait in ms; `null` when nobody was admitted in the last minute. */
  p50: number | null;
  /** 90th percentile wait in ms; `null` when nobody was admitted in the last minute. */
  p90: number | null;
  /** How many admissions these quantiles are over. */
  admitted: number;
}

/** Room counters. */
export interface RoomStats {
  waiting: number;
  active: number;
  /** Admissions during the last minute (10-second buckets, so 50–60 s), as of the last tick. */
  admittedPerMin: number;
  /**
   * Waiters who gave up during the last minute, as of the last tick: `leave()` from the line or the
   * pre-queue, plus evictions for silence (same buckets as `admittedPerMin`).
   */
  abandonedPerMin: number;
  /** Wait of the users admitted during the last minute. */
  waitMs: WaitTimes;
  /** The effective settings (the stored overrides of `configure()` over the options). */
  settings: RoomSettings;
  evictedTotal: number;
  admittedTotal: number;
  ticks: number;
  /** Whether admissions are paused ({@link WaitingRoom.pause}). */
  paused: boolean;
}

/**
 * The {@link WaitingStatus} of one user in a visit.lua reply `r` (see its header) whose six values
 * start at `at`. The ETA and `pollAfterMs` are the script's: the heartbeat deadline it stored
 * follows from the same `pollAfterMs`, so the two can never disagree. @internal
 */
export function waitingStatus(r: (number | string)[], at: number): WaitingStatus {
  return {
    state: 'waiting',
    position: r[at + 1] as number,
    total: r[at + 2] as number,
    etaMs: r[at + 4] as number,
    pollAfterMs: r[at + 5] as number,
    ticket: r[at + 3] as number,
    preQueue: r[at] === 3,
    paused: r[2] === 1,
  };
}
