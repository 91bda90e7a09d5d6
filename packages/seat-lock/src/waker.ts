import { type CallGuard, type RedisClient, subscriberConnection } from '@boxoffice/internal';
import type { SeatLockRedisError } from './errors.js';
import { parseWakeUp, type WakeUp } from './ops-protocol.js';

/** A wake-up for one waiter: the lock key, and the fence when the lock was handed over directly. */
export interface Wake {
  readonly lockKey: string;
  readonly fence: bigint | null;
  /** When the message arrived (ms since epoch). */
  readonly at: number;
}

interface Waiting {
  /** A wake-up that arrived while the waiter was not sleeping. */
  pending: Wake | null;
  wake: ((w: Wake) => void) | null;
}

/**
 * One pub/sub subscriber shared by every waiter of a SeatLock: a release publishes
 * `token fence-or-dash lockKey` for the single waiter it handed the lock to, and only that waiter is
 * woken (no thundering herd).
 */
export class Waker {
  readonly #client: RedisClient;
  readonly #channel: string;
  readonly #guard: CallGuard<SeatLockRedisError>;
  #subscriber: RedisClient | undefined;
  #ready: Promise<void> | undefined;
  #subscribed = false;
  readonly #waiting = new Map<string, Waiting>();

  constructor(client: RedisClient, channel: string, guard: CallGuard<SeatLockRedisError>) {
    this.#client = client;
    this.#channel = channel;
    this.#guard = guard;
  }

  /** True while wake-ups can arrive (subscribed and connected). */
  get live(): boolean {
    return this.#subscribed && this.#subscriber?.status === 'ready';
  }

  /** Subscribe once (lazily); resolves when wake-ups can be received. */
  ready(): Promise<void> {
    if (!this.#ready) {
      const sub = subscriberConnection(this.#client);
      this.#subscriber = sub;
      sub.on('error', () => {}); // reconnects on its own; waiters fall back to polling meanwhile
      sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
      this.#ready = this.#guard.within(
        'subscribe',
        sub.subscribe(this.#channel).then(() => {
          this.#subscribed = true;
        }),
      );
      this.#ready.catch(() => {
        // Allow a later waiter to try again after an outage.
        this.#ready = undefined;
        this.#subscriber = undefined;
        sub.disconnect();
      });
    }
    return this.#ready;
  }

  #onMessage(message: string): void {
    const wakeUp = parseWakeUp(message);
    if (wakeUp) this.deliver(wakeUp);
  }

  /**
   * Wake its token if it waits here. Used for pub/sub messages and by a release in this process
   * that handed the lock to one of our waiters.
   */
  deliver({ token, fence, lockKey }: WakeUp): void {
    const w = this.#waiting.get(token);
    if (!w) return;
    const wake: Wake = { lockKey, fence, at: Date.now() };
    if (w.wake) w.wake(wake);
    else w.pending = wake;
  }

  register(token: string): void {
    this.#waiting.set(token, { pending: null, wake: null });
  }

  unregister(token: string): void {
    this.#waiting.delete(token);
  }

  /**
   * Sleep up to `ms`; resolves early with the wake-up when `token` is woken (or was woken since the
   * last call), or with null after `ms`. Rejects with the signal's reason on abort.
   */
  wait(token: string, ms: number, signal?: AbortSignal): Promise<Wake | null> {
    const w = this.#waiting.get(token);
    if (w?.pending) {
      const wake = w.pending;
      w.pending = null;
      return Promise.resolve(wake);
    }
    return new Promise((resolve, reject) => {
      const done = (value: Wake | null) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (w) w.wake = null;
        resolve(value);
      };
      const onAbort = () => {
        clearTimeout(timer);
        if (w) w.wake = null;
        reject(signal?.reason ?? new DOMException('This operation was aborted', 'AbortError'));
      };
      const timer = setTimeout(() => done(null), ms);
      if (w) w.wake = done;
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Close the subscriber connection (waiters keep working by polling until they end). */
  async close(): Promise<void> {
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    this.#ready = undefined;
    this.#subscribed = false;
    if (sub) await this.#guard.quit(sub);
  }
}
