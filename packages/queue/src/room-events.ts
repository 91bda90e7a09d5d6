import {
  CallGuard,
  check,
  DEFAULT_COMMAND_TIMEOUT_MS,
  MAX_COMMAND_TIMEOUT_MS,
  type RedisClient,
  subscriberConnection,
} from '@boxoffice/internal';
import { type QueueRedisError, queueCallErrors } from './errors.js';

/** A user was let into the booking area; fetch the token with `status()`/`heartbeat()`. */
export interface AdmittedEvent {
  type: 'admitted';
  userId: string;
  /** Expiry shown to the UI (epoch ms). */
  expiresAt: number;
  tick: number;
}

/** A user left the room involuntarily: silent too long (`'timeout'`) or active past its deadline (`'expired'`). */
export interface EvictedEvent {
  type: 'evicted';
  userId: string;
  reason: 'timeout' | 'expired';
  tick: number;
}

/**
 * Broadcast once per tick for everyone (no `userId`): the "serving number". A client that knows its
 * own `ticket` (from `join()`) bounds its position by `ticket - servingTicket + 1` without asking
 * Redis (see `estimatePosition`); `status()` gives the exact figure.
 */
export interface PositionEvent {
  type: 'position';
  /** Lowest ticket still waiting (0 when the line is empty). */
  servingTicket: number;
  /** Users waiting (line + pre-queue). */
  waiting: number;
  /** Users in the booking area. */
  active: number;
  /** Admissions are paused (`WaitingRoom.pause`). */
  paused: boolean;
  tick: number;
  /** Redis time of the tick (epoch ms). */
  at: number;
}

/** What {@link RoomEvents} yields. */
export type RoomEvent = AdmittedEvent | EvictedEvent | PositionEvent;

/** The message one tick publishes (one PUBLISH per tick, whatever the number of users). */
export interface TickMessage {
  tick: number;
  at: number;
  servingTicket: number;
  waiting: number;
  active: number;
  admitted: [userId: string, expiresAt: number][];
  evicted: string[];
  expired: string[];
  /** Absent in messages of versions before pause existed: read as false. */
  paused?: boolean;
}

/** Upper bound of a waiter's position from a {@link PositionEvent} and its own ticket. */
export function estimatePosition(ticket: number, event: PositionEvent): number {
  if (event.servingTicket === 0) return 1;
  return Math.max(1, ticket - event.servingTicket + 1);
}

/**
 * An async iterator over a room's events, on its own subscriber connection (a `duplicate()` of the
 * room's client with `lazyConnect: false` and `enableOfflineQueue: true`, so it works even when the
 * user's client is lazy or has no offline queue), closed by `return()`/`break`, `close()` or the abort signal.
 * `ready` rejects with `QueueRedisError` (kind `timeout`) when the SUBSCRIBE is not answered within
 * `commandTimeoutMs`; `close()` waits at most that long for Redis, then cuts the connection. Events published
 * before `ready` resolves are not delivered. Unconsumed events are buffered up to `maxBuffer`, then the
 * oldest are dropped (a slow consumer never grows memory without bound).
 */
export class RoomEvents implements AsyncIterableIterator<RoomEvent> {
  /** Resolves once the subscription is active. */
  readonly ready: Promise<void>;
  readonly #sub: RedisClient;
  readonly #buffer: RoomEvent[] = [];
  readonly #waiters: ((r: IteratorResult<RoomEvent>) => void)[] = [];
  readonly #maxBuffer: number;
  readonly #guard: CallGuard<QueueRedisError>;
  #done = false;
  #dropped = 0;

  constructor(
    client: RedisClient,
    channel: string,
    maxBuffer: number,
    signal?: AbortSignal,
    commandTimeoutMs: number = DEFAULT_COMMAND_TIMEOUT_MS,
  ) {
    this.#maxBuffer = maxBuffer;
    this.#guard = new CallGuard(commandTimeoutMs, queueCallErrors);
    this.#sub = subscriberConnection(client);
    this.#sub.on('error', () => {});
    this.#sub.on('message', (ch: string, message: string) => {
      if (ch === channel) this.#deliver(message);
    });
    this.ready = this.#guard.within(
      'subscribe',
      this.#sub.subscribe(channel).then(() => undefined),
    );
    this.ready.catch(() => this.close());
    signal?.addEventListener('abort', () => void this.close(), { once: true });
    if (signal?.aborted) void this.close();
  }

  /** Events dropped because the consumer fell more than `maxBuffer` behind. */
  get dropped(): number {
    return this.#dropped;
  }

  #deliver(message: string): void {
    let m: TickMessage;
    try {
      m = JSON.parse(message) as TickMessage;
    } catch {
      return;
    }
    const events: RoomEvent[] = [];
    for (const [userId, expiresAt] of m.admitted) {
      events.push({ type: 'admitted', userId, expiresAt, tick: m.tick });
    }
    for (const userId of m.evicted)
      events.push({ type: 'evicted', userId, reason: 'timeout', tick: m.tick });
    for (const userId of m.expired)
      events.push({ type: 'evicted', userId, reason: 'expired', tick: m.tick });
    events.push({
      type: 'position',
      servingTicket: m.servingTicket,
      waiting: m.waiting,
      active: m.active,
      paused: m.paused === true,
      tick: m.tick,
      at: m.at,
    });
    for (const event of events) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter({ value: event, done: false });
      else {
        this.#buffer.push(event);
        if (this.#buffer.length > this.#maxBuffer) {
          this.#buffer.shift();
          this.#dropped++;
        }
      }
    }
  }

  /** The next event; waits for one, or ends (`done`) once closed. */
  next(): Promise<IteratorResult<RoomEvent>> {
    const value = this.#buffer.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Called by `break` in `for await`: closes the subscription. */
  async return(): Promise<IteratorResult<RoomEvent>> {
    await this.close();
    return { value: undefined, done: true };
  }

  /**
   * Unsubscribe and close the subscriber connection; pending `next()` calls end. Waits for Redis'
   * answer to QUIT at most `commandTimeoutMs`, then cuts the connection whatever Redis does.
   */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#buffer.length = 0;
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
    await this.#guard.quit(this.#sub);
  }

  /** Itself: iterate with `for await`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<RoomEvent> {
    return this;
  }
}

/** Options of `WaitingRoom.events()`. */
export interface RoomEventsOptions {
  /** Closes the iterator when aborted. @defaultValue undefined */
  signal?: AbortSignal;
  /** Most events buffered for a slow consumer; then the oldest are dropped. @defaultValue 10000 */
  maxBuffer?: number;
  /**
   * Longest wait for the SUBSCRIBE's answer (then `ready` rejects with `QueueRedisError`, kind
   * `timeout`) and for Redis during `close()`.
   * @defaultValue the room's `commandTimeoutMs`
   */
  commandTimeoutMs?: number;
}

/** Validate `options` and open the {@link RoomEvents} of `channel`. @internal */
export function openRoomEvents(
  client: RedisClient,
  channel: string,
  options: RoomEventsOptions,
  defaultTimeoutMs: number,
): RoomEvents {
  const o = check.plainObject('events options', options);
  const signal = check.optionalSignal('signal', o.signal);
  const maxBuffer = check.integer('maxBuffer', o.maxBuffer ?? 10_000, { min: 1 });
  const timeoutMs = check.integer('commandTimeoutMs', o.commandTimeoutMs ?? defaultTimeoutMs, {
    min: 1,
    max: MAX_COMMAND_TIMEOUT_MS,
  });
  return new RoomEvents(client, channel, maxBuffer, signal, timeoutMs);
}
