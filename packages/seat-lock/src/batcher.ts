import { type CallGuard, isCluster, type RedisClient, type RedisScript } from '@boxoffice/internal';
import { redisError, SeatLockRedisError } from './errors.js';

interface Corkable {
  cork(): void;
  uncork(): void;
  writable?: boolean;
}

/**
 * Operations per call at most: a full call leaves at once, so Redis runs it while the client is
 * still answering the previous replies and queueing the next operations (client and server work
 * overlap, as with many separate commands); one call for a whole tick would make them alternate.
 */
const MAX_OPS = 16;

interface Waiting {
  operation: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Runs when the operation succeeded after the caller was told it timed out (to undo it). */
  onLate: (() => void) | undefined;
}

/**
 * One connection's Redis calls for a SeatLock. The lock operations started in one tick (every
 * `tryAcquire`, `acquire` attempt and `release` of the tick) leave as ONE `EVALSHA` of ops.lua that
 * runs them in order and answers each one: one command to parse and send for the client, one script
 * call for Redis, however many callers there were. The tick ends with `process.nextTick`, after the
 * promise continuations of the reply that started it, so callers that loop on acquire/release stay
 * in step and share one call per round (at most MAX_OPS operations per call). Plain commands (`send`) first send the operations already
 * queued (the order of calls is kept) and, in one tick, leave in one socket write (the socket is
 * corked until the next tick). On a Cluster, or a client already auto-pipelining, every operation
 * is sent on its own at once (the keys of different operations may live on different nodes).
 * Every operation is bounded by the CallGuard (one deadline per call sent, not per operation):
 * failures are `SeatLockRedisError`s.
 */
export class Batcher {
  readonly #client: RedisClient;
  readonly #script: RedisScript;
  readonly #guard: CallGuard<SeatLockRedisError>;
  readonly #head: readonly string[];
  readonly #direct: boolean;
  #corked: Corkable | undefined;
  #keys: string[] = [];
  // ARGV of the next call: the head, then the queued operations.
  #args: string[];
  #waiting: Waiting[] = [];
  #scheduled = false;
  readonly #uncork = () => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };
  readonly #flush = () => {
    this.#scheduled = false;
    this.flush();
  };

  /** `head`: the script's leading arguments (ARGV[1..]) of every call. */
  constructor(
    client: RedisClient,
    script: RedisScript,
    head: readonly string[],
    guard: CallGuard<SeatLockRedisError>,
  ) {
    this.#client = client;
    this.#script = script;
    this.#guard = guard;
    this.#head = head;
    this.#args = [...head];
    this.#direct = isCluster(client) || client.options.enableAutoPipelining === true;
    script.register(client);
  }

  /**
   * Queue one operation of ops.lua (`keys`: its 3n keys; `args`: its spec, token and optional
   * entry) for this tick's call; resolves with its own reply. `operation` names it in errors;
   * `onLate` runs if it succeeds after it was rejected with a timeout.
   */
  op(
    keys: readonly string[],
    args: readonly string[],
    operation: string,
    onLate?: () => void,
  ): Promise<unknown> {
    const down = this.#guard.refuse(this.#client, operation);
    if (down) return Promise.reject(down);
    return new Promise((resolve, reject) => {
      const w: Waiting = { operation, resolve, reject, onLate };
      if (this.#direct) {
        this.#send(keys, [...this.#head, ...args], [w]);
        return;
      }
      for (const k of keys) this.#keys.push(k);
      for (const a of args) this.#args.push(a);
      this.#waiting.push(w);
      if (this.#waiting.length >= MAX_OPS) this.flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(this.#flush);
      }
    });
  }

  /** Send one plain command (`call` issues it on this batcher's client) after the queued operations. */
  send<T>(call: () => Promise<T>): Promise<T> {
    this.flush();
    this.#cork();
    return call();
  }

  /** Send the queued operations now. */
  flush(): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    const keys = this.#keys;
    const args = this.#args;
    this.#keys = [];
    this.#args = [...this.#head];
    this.#waiting = [];
    this.#send(keys, args, waiting);
  }

  #send(keys: readonly string[], args: readonly string[], waiting: Waiting[]): void {
    const first = waiting[0] as Waiting;
    const watched = this.#guard.watch(first.operation, (timeout) => {
      for (const w of waiting) {
        w.reject(
          w === first ? timeout : new SeatLockRedisError(w.operation, 'timeout', timeout.message),
        );
      }
    });
    let sent: Promise<unknown>;
    try {
      sent = this.#script.run(this.#client, keys, args);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (replies) => {
        const inTime = this.#guard.settle(watched);
        const list = replies as unknown[];
        for (let i = 0; i < waiting.length; i++) {
          const w = waiting[i] as Waiting;
          const reply = list[i];
          if (!inTime) {
            if (!(reply instanceof Error)) w.onLate?.();
          } else if (reply instanceof Error) {
            w.reject(redisError(w.operation, reply));
          } else {
            w.resolve(reply);
          }
        }
      },
      (error: unknown) => {
        if (!this.#guard.settle(watched)) return;
        for (const w of waiting) w.reject(redisError(w.operation, error));
      },
    );
  }

  #cork(): void {
    if (!this.#direct && this.#corked === undefined) {
      const stream = (this.#client as { stream?: Corkable }).stream;
      if (
        this.#client.status === 'ready' &&
        stream?.writable &&
        typeof stream.cork === 'function'
      ) {
        stream.cork();
        this.#corked = stream;
        process.nextTick(this.#uncork);
      }
    }
  }
}
