/** A user in the line. */
export interface WaitingStatus {
  state: 'waiting';
  /** 1 = next to be admitted. */
  position: number;
  /** Everyone waiting (line + pre-queue). */
  total: number;
  /** Estimated wait, from the admissions of the last minute (or admitPerTick/tickMs before any). */
  etaMs: number;
  /** When to call `heartbeat()` next; always well under `heartbeatTimeoutMs`. */
  pollAfterMs: number;
  /** The user's ticket number (0 while in the pre-queue); compare with `PositionEvent.servingTicket`. */
  ticket: number;
  /** True while the user is in the pre-queue (its position may still change until `startsAt`). */
  preQueue: boolean;
  /**
   * Admissions are paused ({@link WaitingRoom.pause}): the place is kept, `etaMs` is what it would
   * be once they resume, and `pollAfterMs` is the longest safe interval.
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
}

/** Room counters. */
export interface RoomStats {
  waiting: number;
  active: number;
  /** Admissions during the last minute (10-second buckets, so 50–60 s). */
  admittedPerMin: number;
  evictedTotal: number;
  admittedTotal: number;
  ticks: number;
  /** Whether admissions are paused ({@link WaitingRoom.pause}). */
  paused: boolean;
}
