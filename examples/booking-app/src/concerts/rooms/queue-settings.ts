/** How every concert's waiting room is configured (see `QUEUE_*` in `.env.example`). */
export interface QueueSettings {
  /** Users in a concert's booking area at once. @defaultValue 50 */
  maxActive: number;
  /** Most users admitted per tick. @defaultValue 10 */
  admitPerTick: number;
  /** Admission tick interval. @defaultValue 1000 */
  tickMs: number;
  /**
   * Tick interval of a room nobody waits in or is admitted to (at least `tickMs`): a join on the
   * instance wakes it, a join on another instance waits for the lease holder, up to this long.
   * @defaultValue 1000
   */
  idleTickMs: number;
  /** A waiter silent this long past the `pollAfterMs` it was told is evicted. @defaultValue 30000 */
  heartbeatTimeoutMs: number;
  /** Longest `pollAfterMs` a waiter is told (far back in line). @defaultValue 60000 */
  maxPollAfterMs: number;
  /** Time in the booking area (the UI timer of the `queue_entry` token). @defaultValue 600000 */
  activeTtlMs: number;
  /** Server grace after the UI timer. @defaultValue 10000 */
  graceMs: number;
}

/** Defaults of {@link QueueSettings}. */
export const QUEUE_DEFAULTS: Readonly<QueueSettings> = Object.freeze({
  maxActive: 50,
  admitPerTick: 10,
  tickMs: 1000,
  idleTickMs: 1000,
  heartbeatTimeoutMs: 30_000,
  maxPollAfterMs: 60_000,
  activeTtlMs: 600_000,
  graceMs: 10_000,
});
