/** Deferred one-seat waiters of one seat, in arrival order. */
interface Line {
  readonly wait: string;
  tokens: string[];
  entries: string[];
  /** Latest end of the waits (ms since epoch): the waiter list's TTL when the line is flushed. */
  until: number;
  /** The entry offered to a release in flight (it may hand the lock to it), or null. */
  offered: string | null;
  flushAfterReply: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Sends `entries` to the end of the waiter list `wait` (one RPUSH), with the list TTL `ttlMs`. */
export type FlushLine = (wait: string, entries: string[], ttlMs: number) => Promise<void>;

/**
 * One-seat waiters of a SeatLock that holds the seat itself: rather than one `RPUSH` each, they
 * join the seat's Redis waiter list together, at most `delayMs` later, in arrival order (one
 * command for all of them). Meanwhile, a release by this SeatLock that finds the Redis list empty
 * hands the lock to the first of them (a release in ops.lua). A waiter taken out of the line
 * (`take`) before the flush never reaches Redis.
 */
export class DeferredJoins {
  readonly #lines = new Map<string, Line>();
  readonly #flush: FlushLine;
  readonly #delayMs: number;

  constructor(flush: FlushLine, delayMs: number) {
    this.#flush = flush;
    this.#delayMs = delayMs;
  }

  /** Queue `token` (waiter-list entry `entry`) for the list `wait` of lock `lock`. */
  add(lock: string, wait: string, token: string, entry: string, until: number): void {
    let line = this.#lines.get(lock);
    if (!line) {
      line = {
        wait,
        tokens: [],
        entries: [],
        until: 0,
        offered: null,
        flushAfterReply: false,
        timer: undefined,
      };
      this.#lines.set(lock, line);
    }
    line.tokens.push(token);
    line.entries.push(entry);
    if (until > line.until) line.until = until;
    if (!line.timer) {
      const l = line;
      line.timer = setTimeout(() => this.#send(lock, l), this.#delayMs);
      line.timer.unref();
    }
  }

  /** True when `token` waits here; removes it (it will try itself, or it gave up). */
  take(lock: string, token: string): boolean {
    const line = this.#lines.get(lock);
    if (!line) return false;
    const i = line.tokens.indexOf(token);
    if (i < 0) return false;
    if (line.offered === line.entries[i]) line.offered = null;
    line.tokens.splice(i, 1);
    line.entries.splice(i, 1);
    this.#dropIfEmpty(lock, line);
    return true;
  }

  /** The first entry of the line, offered to a release of `lock` now in flight (or undefined). */
  offer(lock: string): string | undefined {
    const line = this.#lines.get(lock);
    if (!line || line.offered !== null || line.entries.length === 0) return undefined;
    line.offered = line.entries[0] as string;
    return line.offered;
  }

  /**
   * The release `offer` was made to has answered: `consumed` = the lock was handed to the entry,
   * undefined = unknown (the call failed): the entry leaves the line either way then (if it did not
   * get the lock, it polls like any waiter).
   */
  settle(lock: string, entry: string, consumed: boolean | undefined): void {
    const line = this.#lines.get(lock);
    if (!line) return;
    if (line.offered === entry) {
      line.offered = null;
      if (consumed !== false) {
        const i = line.entries.indexOf(entry);
        if (i >= 0) {
          line.tokens.splice(i, 1);
          line.entries.splice(i, 1);
        }
      }
    }
    if (line.flushAfterReply) {
      line.flushAfterReply = false;
      this.#send(lock, line);
    } else {
      this.#dropIfEmpty(lock, line);
    }
  }

  /** Drop every line (their waiters poll). */
  clear(): void {
    for (const line of this.#lines.values()) clearTimeout(line.timer);
    this.#lines.clear();
  }

  #send(lock: string, line: Line): void {
    if (this.#lines.get(lock) !== line) return;
    if (line.offered !== null) {
      // A release may hand the lock to the first entry: wait for its answer.
      line.flushAfterReply = true;
      return;
    }
    clearTimeout(line.timer);
    this.#lines.delete(lock);
    if (line.entries.length === 0) return;
    const ttlMs = Math.max(1, line.until - Date.now());
    this.#flush(line.wait, line.entries, ttlMs).catch(() => {
      // The waiters believe they are in line; if they are not, their polls still find the seat.
    });
  }

  #dropIfEmpty(lock: string, line: Line): void {
    if (line.entries.length === 0 && line.offered === null && !line.flushAfterReply) {
      clearTimeout(line.timer);
      this.#lines.delete(lock);
    }
  }
}
