// The one deadline of the Redis-call layer (ARCHITECTURE.md, "Bounded calls"): every package bounds
// its Redis calls with `commandTimeoutMs` through a CallGuard, and fails with its own typed error.

import type { RedisClient } from './client.js';
import { type RedisErrorClass, redisCallError } from './errors.js';

/**
 * Default of every package's `commandTimeoutMs`: the longest wait for one Redis call.
 * @defaultValue 2_000
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;

/** Largest `commandTimeoutMs` a package accepts (ten minutes). */
export const MAX_COMMAND_TIMEOUT_MS = 600_000;

// Statuses in which a command would sit in ioredis' offline queue instead of failing: refuse at
// once so a Redis outage is reported quickly rather than as a hang. (A lookup, not a per-call Set.)
const DOWN = new Set(['end', 'close', 'reconnecting', 'disconnecting']);

/** True when `client` is in a state where a command would wait in ioredis' queue, not reach Redis. */
export function isClientDown(client: RedisClient): boolean {
  return DOWN.has(client.status);
}

/** How a package's {@link CallGuard} words its failures: each returns the package's own error. */
export interface CallErrors<E extends Error> {
  /** No answer within `timeoutMs` (kind `timeout`). */
  timeout(operation: string, timeoutMs: number): E;
  /** The client is down (`status`), so the call was not sent (kind `unavailable`). */
  down(operation: string, status: string): E;
  /**
   * The call rejected with `error` (kind from the shared classifier). May return an error of the
   * package's own that is not a Redis failure unchanged (see {@link callErrors}'s `Base`).
   */
  failed(operation: string, error: unknown): E;
}

/**
 * The {@link CallErrors} of a package whose Redis-failure error has the shape
 * `new (operation, kind, message, cause?)` (seat-lock, queue, sketch). An error of the package's
 * base class `Base` (e.g. a "room closed" decided from a script's reply inside the bounded call)
 * passes through unchanged; anything else becomes a `Type` classified by {@link callFailureKind}.
 */
export function callErrors<E extends Error>(
  Type: RedisErrorClass<E>,
  Base: abstract new (...args: never[]) => Error = Type,
): CallErrors<E> {
  return {
    timeout: (operation, ms) =>
      new Type(operation, 'timeout', `no answer from Redis within ${ms} ms`),
    down: (operation, status) => new Type(operation, 'unavailable', `Redis client is ${status}`),
    failed: (operation, error) =>
      error instanceof Base ? (error as E) : redisCallError(Type, operation, error),
  };
}

/**
 * One call in flight, linked into its guard's list (oldest first). A package may implement it on an
 * object it already allocates per call (then tracking allocates nothing more) and pass it to
 * {@link CallGuard.track}.
 */
export interface Pending<E extends Error = Error> {
  /** When it times out (ms, local clock); set by {@link CallGuard.track}. */
  deadline: number;
  readonly operation: string;
  /** Set once settled, by its answer or by the deadline. */
  settled: boolean;
  /** Called once with the timeout error when no answer came in time. */
  expire(error: E): void;
  prev: Pending<E> | null;
  next: Pending<E> | null;
}

/**
 * Bounds Redis calls: fails fast when the client is down and rejects any call still unanswered
 * after `timeoutMs` (checked by one shared timer, not one timer per call, which matters on the hot
 * path): a call fails between `timeoutMs` and `timeoutMs + min(100, timeoutMs / 4)` after it began.
 * Calls in flight sit in an intrusive doubly linked list in deadline order: O(1) to add and remove,
 * and the check stops at the first call not yet due. (A `Set` of pending calls made the scavenger
 * promote most per-call objects: the guard alone doubled the CPU cost of a seat-lock
 * acquire/release pair, most of it garbage collection.) The timer runs only while a call is
 * pending and never keeps the process alive. Generic over the error it rejects with
 * ({@link CallErrors}), so each package keeps its own typed error.
 *
 * @example
 * const guard = new CallGuard(2_000, callErrors(QueueRedisError));
 * const n = await guard.run(redis, 'leave', () => redis.zrem(key, user));
 */
export class CallGuard<E extends Error> {
  /** The deadline of every call, in ms. */
  readonly timeoutMs: number;
  readonly #errors: CallErrors<E>;
  #head: Pending<E> | null = null;
  #tail: Pending<E> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, errors: CallErrors<E>) {
    this.timeoutMs = timeoutMs;
    this.#errors = errors;
  }

  /**
   * Run `call` on `client` under the deadline; `onLateResult` runs if it succeeds after we gave up
   * on it (to undo its effect). Rejects with the package's error: `unavailable` at once when the
   * client is down, `timeout` past the deadline, else as classified from what `call` rejected with.
   */
  run<T>(
    client: RedisClient,
    operation: string,
    call: () => Promise<T>,
    onLateResult?: () => void,
  ): Promise<T> {
    const down = this.refuse(client, operation);
    if (down) return Promise.reject(down);
    return this.#race(operation, call, onLateResult);
  }

  /**
   * Run a pipeline of several calls on `client`, bounded by progress: it fails with the timeout
   * error when no reply of it came for `timeoutMs` after it was sent (so a pipeline of n calls may
   * take up to n × `timeoutMs` while Redis keeps answering, and fails within `timeoutMs` when Redis
   * stops). `send(onReply)` queues the calls, each with `onReply` as its reply callback, and returns
   * the pipeline's `exec()`. Refuses at once, like {@link run}, when the client is down.
   */
  pipeline<T>(
    client: RedisClient,
    operation: string,
    send: (onReply: () => void) => Promise<T>,
  ): Promise<T> {
    const down = this.refuse(client, operation);
    if (down) return Promise.reject(down);
    return new Promise<T>((resolve, reject) => {
      let p: Pending<E> | undefined;
      const onReply = () => {
        if (p && this.settle(p)) p = this.watch(operation, reject);
      };
      let sent: Promise<T>;
      try {
        sent = send(onReply);
      } catch (error) {
        reject(this.#errors.failed(operation, error));
        return;
      }
      // The bound starts once `send` returned: queuing and serializing a large pipeline is this
      // process's own work, not Redis's silence — ~1.6 s for 100 calls of 26,000 arguments on an
      // idle 2-core machine, enough under load to time out a big `hasMany` when it was counted.
      p = this.watch(operation, reject);
      sent.then(
        (value) => {
          if (p && this.settle(p)) resolve(value);
        },
        (error: unknown) => {
          if (p && this.settle(p)) reject(this.#errors.failed(operation, error));
        },
      );
    });
  }

  /**
   * Wait for `promise` (e.g. a close step) at most `timeoutMs`: rejects with the timeout error past
   * it, with the package's error if it rejects. No client status check: for ending things.
   */
  within<T>(operation: string, promise: Promise<T>): Promise<T> {
    return this.#race(operation, () => promise);
  }

  /**
   * Close a connection this package opened, in bounded time whatever Redis does: QUIT on a ready
   * connection, waited for at most `timeoutMs` (on one not connected it would only wait in
   * ioredis' queue), then the connection is cut. Never rejects.
   */
  async quit(client: RedisClient): Promise<void> {
    if (client.status === 'end') return;
    if (client.status === 'ready') await this.within('close', client.quit()).catch(() => {});
    if ((client.status as string) !== 'end') client.disconnect();
  }

  /** The error for a call on a client that is down (the call would wait in ioredis' queue), or undefined. */
  refuse(client: RedisClient, operation: string): E | undefined {
    return DOWN.has(client.status) ? this.#errors.down(operation, client.status) : undefined;
  }

  /** The package's timeout error for `operation` (e.g. for each call sent with a watched one). */
  timedOut(operation: string): E {
    return this.#errors.timeout(operation, this.timeoutMs);
  }

  /** The package's error for what a call of `operation` rejected with. */
  failed(operation: string, error: unknown): E {
    return this.#errors.failed(operation, error);
  }

  /**
   * Watch a call made elsewhere: `expire` runs with the timeout error unless {@link settle} is
   * called first.
   */
  watch(operation: string, expire: (error: E) => void): Pending<E> {
    return this.track({ deadline: 0, operation, settled: false, expire, prev: null, next: null });
  }

  /** Start the deadline of `p` (a fresh, unsettled entry) now; returns it. */
  track<P extends Pending<E>>(p: P): P {
    p.deadline = Date.now() + this.timeoutMs;
    p.prev = this.#tail;
    p.next = null;
    if (this.#tail) this.#tail.next = p;
    else this.#head = p;
    this.#tail = p;
    if (!this.#timer) this.#arm();
    return p;
  }

  /** The answer to a watched call came: true when in time, false when it was already expired. */
  settle(p: Pending<E>): boolean {
    if (p.settled) return false;
    this.#unlink(p);
    return true;
  }

  #race<T>(operation: string, call: () => Promise<T>, onLateResult?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const p = this.watch(operation, reject);
      let sent: Promise<T>;
      try {
        sent = call();
      } catch (error) {
        // A client that throws instead of rejecting.
        this.#unlink(p);
        reject(this.#errors.failed(operation, error));
        return;
      }
      sent.then(
        (value) => {
          if (p.settled) {
            onLateResult?.();
            return;
          }
          this.#unlink(p);
          resolve(value);
        },
        (error: unknown) => {
          if (p.settled) return;
          this.#unlink(p);
          reject(this.#errors.failed(operation, error));
        },
      );
    });
  }

  #unlink(p: Pending<E>): void {
    p.settled = true;
    if (p.prev) p.prev.next = p.next;
    else if (this.#head === p) this.#head = p.next;
    if (p.next) p.next.prev = p.prev;
    else if (this.#tail === p) this.#tail = p.prev;
    p.prev = null;
    p.next = null;
  }

  #arm(): void {
    const every = Math.max(5, Math.min(100, Math.floor(this.timeoutMs / 4)));
    this.#timer = setInterval(() => this.#check(), every);
    this.#timer.unref();
  }

  #check(): void {
    const now = Date.now();
    // Every call has the same timeout, so the list is in deadline order.
    while (this.#head && this.#head.deadline <= now) {
      const p = this.#head;
      this.#unlink(p);
      p.expire(this.#errors.timeout(p.operation, this.timeoutMs));
    }
    if (!this.#head) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
