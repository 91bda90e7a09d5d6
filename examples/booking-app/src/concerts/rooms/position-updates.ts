import type { RoomStatus } from '@boxoffice/queue';

/**
 * When a waiter on a push channel (SSE) is told its place in line: the room ticks for everyone
 * (10 times a second at a 100 ms tick), but a waiter far back gains little from hearing each step,
 * and writing every stream every tick costs O(waiters) writes per tick. So a stream sends a
 * `position` only when the number it would show went down, and no sooner than {@link
 * positionEveryMs} after the last one (the head of the line hears every step); far back it also
 * waits for a change of at least 1 %. Admissions, evictions and the sell-out are never held back.
 */
export class PositionUpdates {
  #shown = Number.POSITIVE_INFINITY;
  #sentAt = 0;

  /**
   * The position to send now, or `undefined` to send nothing. `bound` is an upper bound of the real
   * position (the exact one from the last heartbeat, the ticket estimate, the line's length: the
   * smallest of them), so the shown number never grows and never exceeds the line.
   */
  next(bound: number, now = Date.now()): number | undefined {
    const position = Math.max(1, Math.floor(bound));
    if (position >= this.#shown) return undefined;
    if (now - this.#sentAt < positionEveryMs(position)) return undefined;
    if (position > 100 && this.#shown - position < this.#shown / 100) return undefined;
    this.#shown = position;
    this.#sentAt = now;
    return position;
  }

  /**
   * When this stream may next have a `position` worth sending (ms since the epoch), so the gateway
   * calls it then and not at every tick: the end of the pacing interval after the last one shown;
   * once that has passed without a change worth showing, `min(interval, 1 s)` later.
   */
  dueAt(now = Date.now()): number {
    const every = positionEveryMs(this.#shown);
    const at = this.#sentAt + every;
    return at > now ? at : now + Math.min(every, 1_000);
  }

  /** The smallest position this stream has shown (Infinity before the first). */
  get last(): number {
    return this.#shown;
  }

  /** An exact position was sent by other means (a `status` event): count it as shown. */
  shown(position: number, now = Date.now()): void {
    this.#shown = position;
    this.#sentAt = now;
  }
}

/** Least time between two `position` events to a waiter at `position`. */
export function positionEveryMs(position: number): number {
  if (position <= 10) return 0;
  if (position <= 100) return 1_000;
  if (position <= 1_000) return 2_000;
  return 5_000;
}

/**
 * Whether a heartbeat's `next` status tells a waiter's page anything the `last` status sent did
 * not: another state, a pause or resume, a place smaller than the `shown` one, or an ETA that moved
 * by more than a tenth. The page shows the smallest place it heard and a rough ETA, so any other
 * status would redraw nothing and only cost a write per waiter per beat.
 */
export function statusIsNews(last: RoomStatus, next: RoomStatus, shown: number): boolean {
  if (last.state !== 'waiting' || next.state !== 'waiting') return true;
  if (last.paused !== next.paused || last.preQueue !== next.preQueue) return true;
  if (next.position < shown) return true;
  return Math.abs(next.etaMs - last.etaMs) > last.etaMs / 10;
}

/**
 * How long a stream waits before it next heartbeats for its waiter: the room's `pollAfterMs` plus
 * half of `heartbeatTimeoutMs`. The room evicts a waiter `pollAfterMs + heartbeatTimeoutMs` after
 * its last beat; a browser across a network needs that whole margin, a stream held by this server
 * only has to cover a late grid step (`BeatGrid`) and a busy event loop, so half of it is still
 * wide — and every stream beats less often (the position itself comes from the ticks).
 */
export function streamBeatMs(pollAfterMs: number, heartbeatTimeoutMs: number): number {
  return pollAfterMs + Math.floor(heartbeatTimeoutMs / 2);
}
