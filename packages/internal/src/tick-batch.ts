// The one per-tick batch of the Redis-call layer (ARCHITECTURE.md, "Bounded calls"): the calls a
// package makes in one event-loop turn leave together, as one pipeline (idempotency's store) or one
// call of a batch script (seat-lock's lock operations, the waiting room's visits). Hot paths: nothing
// here allocates per call beyond the caller's own entry.

import { isCluster, type RedisClient } from './client.js';
import type { CallGuard } from './deadline.js';
import type { RedisScript } from './script.js';

/**
 * When a {@link TickBatch} sends what was queued:
 * - `tick`: at `process.nextTick`, after the promise continuations of the reply that started the
 *   tick, so callers that loop (acquire, release, acquire…) stay in step and share one call a round;
 * - `turn`: at `setImmediate`, after the I/O callbacks of this turn, so every request that arrived
 *   together shares one batch;
 * - `{ afterMs }`: `afterMs` after the first item of the batch, so what is queued within that
 *   window shares one batch (an explicit {@link TickBatch.flush} starts the next window afresh).
 */
export type TickBatchDefer = 'tick' | 'turn' | { afterMs: number };

/** Options of a {@link TickBatch}. */
export interface TickBatchOptions {
  /** Send at once when this many items are queued. @defaultValue Infinity */
  max?: number;
  /** When the items of a tick are sent. @defaultValue 'tick' */
  defer?: TickBatchDefer;
}

/**
 * Gathers the items queued in one tick and hands them to `send` as one array: once per tick (see
 * {@link TickBatchDefer}), at once when `max` are queued, or on {@link flush}. An explicit flush
 * keeps the order of calls when a package sends another command in the same tick.
 *
 * @example
 * const batch = new TickBatch<Call>((calls) => sendAll(calls), { defer: 'turn' });
 * batch.add(call);
 */
export class TickBatch<T> {
  readonly #send: (items: T[]) => void;
  readonly #max: number;
  readonly #defer: TickBatchDefer;
  #items: T[] = [];
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushScheduled = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(send: (items: T[]) => void, options: TickBatchOptions = {}) {
    this.#send = send;
    this.#max = options.max ?? Number.POSITIVE_INFINITY;
    this.#defer = options.defer ?? 'tick';
  }

  /** Queue `item` for this tick's batch. */
  add(item: T): void {
    const items = this.#items;
    items.push(item);
    if (items.length >= this.#max) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      const defer = this.#defer;
      if (defer === 'turn') setImmediate(this.#flushScheduled);
      else if (defer === 'tick') process.nextTick(this.#flushScheduled);
      else this.#timer = setTimeout(this.#flushScheduled, defer.afterMs);
    }
  }

  /** Send the queued items now (nothing when none are). */
  flush(): void {
    if (this.#timer !== undefined) {
      // A window ends with its batch: the next item starts a new one.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    const items = this.#items;
    if (items.length === 0) return;
    this.#items = [];
    this.#send(items);
  }
}

type Reply = [Error | null, unknown];
type Chain = Record<string, (...args: unknown[]) => unknown> & {
  exec(): Promise<Reply[] | null>;
};

/** One command of a {@link TickPipeline}; a package's per-call object may implement it. */
export interface PipelinedCommand {
  /** A method of the client's pipelines, e.g. a defined script's command. */
  readonly command: string;
  readonly args: readonly unknown[];
  /** Gets the reply (`error` null) or the error of this command, once. */
  reply(error: unknown, value: unknown): void;
}

/**
 * Sends the commands issued during one turn of the event loop (`defer` `turn`) as one pipeline, for
 * a standalone or Sentinel client. Unlike ioredis' `enableAutoPipelining` (one batch in flight per
 * client; later commands wait for its replies), each turn's batch is written at once, so a request's
 * second command never waits behind another request's batch, and a client without auto-pipelining
 * still writes one batch per turn instead of one socket write per command. Replies, errors and the
 * NOSCRIPT fallback of defined commands are ioredis' own, per command. No deadline here: the
 * caller tracks each command (e.g. {@link CallGuard.track}).
 */
export class TickPipeline {
  static readonly #shared = new WeakMap<object, TickPipeline>();
  readonly #client: RedisClient;
  readonly #batch: TickBatch<PipelinedCommand>;
  readonly #direct: boolean;

  /**
   * The `turn` pipeline of `client` that every caller of the process shares, so the commands of
   * one turn leave in one write whichever object queued them (a script command must be `register`ed
   * on `client` before it is queued).
   */
  static shared(client: RedisClient): TickPipeline {
    let pipeline = TickPipeline.#shared.get(client);
    if (!pipeline) {
      pipeline = new TickPipeline(client, 'turn');
      TickPipeline.#shared.set(client, pipeline);
    }
    return pipeline;
  }

  constructor(client: RedisClient, defer: TickBatchDefer = 'turn') {
    this.#client = client;
    this.#direct = isCluster(client);
    this.#batch = new TickBatch((batch) => this.#exec(batch), { defer });
  }

  /** Queue `command` for this turn's pipeline. */
  send(command: PipelinedCommand): void {
    this.#batch.add(command);
  }

  /**
   * Queue `command` (a method of the client and its pipelines, e.g. `exists` or a registered
   * script's command) with `args`; resolves with its reply. On a Cluster client, whose pipelines
   * must stay in one slot, the command is sent directly instead.
   */
  call(command: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#direct) {
      const client = this.#client as unknown as Record<
        string,
        (...a: unknown[]) => Promise<unknown>
      >;
      return (client[command] as (...a: unknown[]) => Promise<unknown>).apply(client, [...args]);
    }
    return new Promise((resolve, reject) => {
      this.#batch.add({
        command,
        args,
        reply: (error, value) => (error ? reject(error) : resolve(value)),
      });
    });
  }

  #exec(batch: PipelinedCommand[]): void {
    let pipeline: Chain;
    try {
      pipeline = this.#client.pipeline() as unknown as Chain;
      for (const q of batch) {
        const fn = pipeline[q.command];
        if (typeof fn !== 'function') throw new Error(`pipelines have no command ${q.command}`);
        fn.apply(pipeline, q.args as unknown[]);
      }
    } catch (error) {
      for (const q of batch) q.reply(error, undefined);
      return;
    }
    pipeline.exec().then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) {
          const q = batch[i] as PipelinedCommand;
          const reply = replies?.[i];
          if (reply === undefined)
            q.reply(new Error('no reply for a pipelined command'), undefined);
          else q.reply(reply[0], reply[1]);
        }
      },
      (error: unknown) => {
        for (const q of batch) q.reply(error, undefined);
      },
    );
  }
}

interface Corkable {
  cork(): void;
  uncork(): void;
  writable?: boolean;
}

interface ScriptOp {
  operation: string;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Runs when the operation succeeded after the caller was told it timed out (to undo it). */
  onLate: (() => void) | undefined;
}

/** Options of a {@link TickScript}. */
export interface TickScriptOptions {
  /** Operations per script call at most (a full call leaves at once). */
  max: number;
}

/**
 * The operations of one batch script started in one tick (`defer` `tick`) leave as ONE call of it:
 * ARGV is `head` then each operation's arguments in turn, KEYS each operation's keys in turn, and the
 * script answers a list with one reply per operation (an error reply for one that failed). One
 * command to parse and send for the client, one script run for Redis, however many callers.
 * Plain commands ({@link send}) first send the operations already queued (the order of calls is
 * kept) and, in one tick, leave in one socket write (the socket is corked until the next tick). On a
 * Cluster, or a client already auto-pipelining, every operation is sent on its own at once (the keys
 * of different operations may live on different nodes). Bounded by the CallGuard with one deadline
 * per call sent, not per operation; failures are the guard's package errors.
 */
export class TickScript<E extends Error> {
  readonly #client: RedisClient;
  readonly #script: RedisScript;
  readonly #guard: CallGuard<E>;
  readonly #head: readonly string[];
  readonly #direct: boolean;
  readonly #batch: TickBatch<ScriptOp>;
  #corked: Corkable | undefined;
  #keys: string[] = [];
  // ARGV of the next call: the head, then the queued operations.
  #args: string[];
  readonly #uncork = () => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };

  /** `head`: the script's leading arguments (ARGV[1..]) of every call. */
  constructor(
    client: RedisClient,
    script: RedisScript,
    head: readonly string[],
    guard: CallGuard<E>,
    options: TickScriptOptions,
  ) {
    this.#client = client;
    this.#script = script;
    this.#guard = guard;
    this.#head = head;
    this.#args = [...head];
    this.#direct = isCluster(client) || client.options.enableAutoPipelining === true;
    this.#batch = new TickBatch(
      (ops) => {
        const keys = this.#keys;
        const args = this.#args;
        this.#keys = [];
        this.#args = [...this.#head];
        this.#call(keys, args, ops);
      },
      { max: options.max, defer: 'tick' },
    );
    script.register(client);
  }

  /**
   * Queue one operation (`keys` and `args`: its part of KEYS and ARGV) for this tick's call;
   * resolves with its own reply. `operation` names it in errors; `onLate` runs if it succeeds after
   * it was rejected with a timeout.
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
      const op: ScriptOp = { operation, resolve, reject, onLate };
      if (this.#direct) {
        this.#call(keys, [...this.#head, ...args], [op]);
        return;
      }
      for (const k of keys) this.#keys.push(k);
      for (const a of args) this.#args.push(a);
      this.#batch.add(op);
    });
  }

  /** Send one plain command (`call` issues it on this batch's client) after the queued operations. */
  send<T>(call: () => Promise<T>): Promise<T> {
    this.#batch.flush();
    this.#cork();
    return call();
  }

  /** Send the queued operations now. */
  flush(): void {
    this.#batch.flush();
  }

  #call(keys: readonly string[], args: readonly string[], ops: ScriptOp[]): void {
    const guard = this.#guard;
    const first = ops[0] as ScriptOp;
    const watched = guard.watch(first.operation, (timeout) => {
      for (const op of ops) op.reject(op === first ? timeout : guard.timedOut(op.operation));
    });
    let sent: Promise<unknown>;
    try {
      sent = this.#script.run(this.#client, keys, args);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (replies) => {
        const inTime = guard.settle(watched);
        const list = replies as unknown[];
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i] as ScriptOp;
          const reply = list[i];
          if (!inTime) {
            if (!(reply instanceof Error)) op.onLate?.();
          } else if (reply instanceof Error) {
            op.reject(guard.failed(op.operation, reply));
          } else {
            op.resolve(reply);
          }
        }
      },
      (error: unknown) => {
        if (!guard.settle(watched)) return;
        for (const op of ops) op.reject(guard.failed(op.operation, error));
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
