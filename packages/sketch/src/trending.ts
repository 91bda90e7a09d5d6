import { check, ioredisClient, keyPrefix, luaScript, type RedisClient } from '@boxoffice/internal';
import { bounded, type Call, CHUNK, COMMAND_TIMEOUT_MS, call, payload, runAll } from './batch.js';
import { BufferedTrending, type BufferedTrendingOptions } from './buffered-trending.js';
import { HASH_VERSION, pushCounterIndexes } from './hash.js';
import {
  type Duration,
  duration,
  type Item,
  increment,
  item,
  list,
  MAX_INCREMENT,
  type RecordOptions,
  tagged,
} from './input.js';
import countersLua from './lua/include/trend-counters.lua';
import candidatesLua from './lua/trend-candidates.lua';
import estimateLua from './lua/trend-estimate.lua';
import recordLua from './lua/trend-record.lua';
import { bloomSize, cmsSize } from './sizing.js';
import {
  type PendingEvent,
  type TrendTarget,
  type WriteOutcome,
  writeSettled,
} from './trend-write.js';

const v = __PACKAGE_VERSION__;
const counters = { includes: [countersLua] };
const recordScript = luaScript('sketch', 'trend_record', recordLua, v, counters);
const candidatesScript = luaScript('sketch', 'trend_candidates', candidatesLua, v);
const estimateScript = luaScript('sketch', 'trend_estimate', estimateLua, v, counters);

/** Largest number of buckets in a window (a window read touches two keys per bucket). */
export const MAX_BUCKETS = 1000;

/** Options of {@link Trending}. Give `epsilon`/`delta` or `width`/`depth`, not both. */
export interface TrendingOptions {
  /** Name of this trending list; all its keys share the hash tag `{name}` (or the `{tag}` in it). */
  name: string;
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Longest window that can be queried; data older than window + one bucket expires. @defaultValue { days: 3 } */
  window?: Duration;
  /** Bucket length; the window must be a whole number of buckets. @defaultValue { hours: 1 } */
  bucket?: Duration;
  /** Candidates kept per bucket (the largest `n` of {@link Trending.top}). @defaultValue 100 */
  topK?: number;
  /** Relative error of each bucket's sketch; window estimates exceed the truth by ≤ ε × window total. @defaultValue 0.001 */
  epsilon?: number;
  /** Failure probability of the ε bound (per bucket). @defaultValue 0.01 */
  delta?: number;
  /** Counters per row of each bucket's sketch (instead of epsilon). @defaultValue undefined */
  width?: number;
  /** Rows of each bucket's sketch (instead of delta). @defaultValue undefined */
  depth?: number;
  /** Conservative update. @defaultValue true */
  conservative?: boolean;
  /** Size of each bucket's Bloom filter for `dedupeBy` (allocated only when dedupeBy is used). @defaultValue { capacity: 100_000, errorRate: 0.001 } */
  dedupe?: { capacity?: number; errorRate?: number };
  /** The clock (unix ms) used when `at` is not given. @defaultValue Date.now */
  clock?: () => number;
  /**
   * Longest wait for one Redis call (the same option in every boxoffice package): past it the call
   * fails with `SketchRedisError` of kind `timeout`, at once with kind `unavailable` while the
   * client is reconnecting or closed. Also bounds each flush of {@link Trending.buffered}, so its
   * `close()` finishes in bounded time. @defaultValue 2000
   */
  commandTimeoutMs?: number;
}

const DEDUPE_DEFAULTS = Object.freeze({ capacity: 100_000, errorRate: 0.001 });

const DEFAULTS: Readonly<TrendingOptions> = Object.freeze({
  name: '',
  prefix: 'bo',
  window: Object.freeze({ days: 3 }),
  bucket: Object.freeze({ hours: 1 }),
  topK: 100,
  epsilon: undefined,
  delta: undefined,
  width: undefined,
  depth: undefined,
  conservative: true,
  dedupe: DEDUPE_DEFAULTS,
  clock: Date.now,
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
});

/** Options of {@link Trending.top} and {@link Trending.estimate}. */
export interface QueryOptions {
  /** Window to read, up to the configured one, a whole number of buckets. @defaultValue the configured window */
  window?: Duration;
  /** Read the window that ends at this time. @defaultValue now */
  at?: Date;
}

interface Queued {
  event: PendingEvent;
  resolve: (counted: boolean) => void;
  reject: (error: unknown) => void;
}

/** One row of {@link Trending.top}. */
export interface TrendingItem {
  /** The item, as a string (numbers are recorded as their decimal string). */
  item: string;
  /** Estimated count in the window: never below the true count. */
  estimate: number;
  /** ε × window total: the estimate exceeds the true count by at most this, with probability ≥ 1 − δ per bucket. */
  errorBound: number;
}

/**
 * "Most popular over the last N days", shared by every app instance: per time bucket, one Count-Min
 * Sketch (8-bit counters with an overflow hash, widened to 16/32 bits only when many counters
 * overflow; see lua/include/trend-counters.lua) and one bounded top-K candidate ZSET (all expiring window +
 * one bucket after the bucket starts), optionally one Bloom filter for `dedupeBy`. `top()` merges the candidate sets of the
 * window's buckets in Lua and re-scores the best candidates against every bucket's sketch; it never
 * scans items.
 */
export class Trending {
  /** Bucket length in ms. */
  readonly bucketMs: number;
  /** Window length in ms. */
  readonly windowMs: number;
  /** Counters per row of each bucket's sketch. */
  readonly width: number;
  /** Rows of each bucket's sketch. */
  readonly depth: number;
  /** ε = e / width. */
  readonly epsilon: number;
  /** Candidates kept per bucket. */
  readonly topK: number;
  readonly #t: TrendTarget;
  readonly #clock: () => number;

  constructor(client: RedisClient, options: TrendingOptions) {
    ioredisClient('client', client);
    const o = check.mergeOptions('Trending options', DEFAULTS, options);
    const name = tagged('Trending.name', o.name);
    const prefix = keyPrefix('Trending.prefix', o.prefix);
    this.windowMs = duration('Trending.window', o.window);
    this.bucketMs = duration('Trending.bucket', o.bucket);
    if (this.windowMs % this.bucketMs !== 0) {
      throw new RangeError(
        `Trending.window (${this.windowMs} ms) must be a whole number of buckets (${this.bucketMs} ms)`,
      );
    }
    if (this.windowMs / this.bucketMs > MAX_BUCKETS - 1) {
      throw new RangeError(
        `Trending: window / bucket must be at most ${MAX_BUCKETS - 1}, got ${this.windowMs / this.bucketMs}`,
      );
    }
    this.topK = check.integer('Trending.topK', o.topK, { min: 1, max: 10_000 });
    const conservative = check.boolean('Trending.conservative', o.conservative);
    this.#clock = check.func('Trending.clock', o.clock);
    const { width, depth } = cmsSize('Trending', o);
    const dedupe = check.mergeOptions('Trending.dedupe', DEDUPE_DEFAULTS, o.dedupe);
    const bloom = bloomSize('Trending.dedupe', dedupe.capacity, dedupe.errorRate);
    this.width = width;
    this.depth = depth;
    this.epsilon = Math.E / width;
    const base = `${prefix}:trend:${name}`;
    this.#t = Object.freeze({
      ...bounded('Trending', client, o.commandTimeoutMs),
      base,
      meta: `${base}:meta`,
      layout: `trend3:${HASH_VERSION}:w${width}:d${depth}:b${this.bucketMs}:m${bloom.bits}:k${bloom.hashes}`,
      conservative,
      cells: width * depth,
      width,
      depth,
      topK: this.topK,
      bucketMs: this.bucketMs,
      windowMs: this.windowMs,
      bloomBits: bloom.bits,
      bloomHashes: bloom.hashes,
    });
  }

  /**
   * Count `n` (an integer in [1, 2^31]) occurrences of `item`. Resolves to true if counted, false if
   * the event is older than the window or a repeat of (item, dedupeBy) in its bucket.
   */
  async record(value: Item, n = 1, options?: RecordOptions): Promise<boolean> {
    const event = this.prepare(value, n, options, 'record');
    // Calls made in the same turn of the event loop are sent together (one round trip, one script
    // call per bucket): concurrent callers share the per-call cost of Redis and Lua.
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ event, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => this.#sendQueued());
    });
  }

  #queue: Queued[] = [];

  async #sendQueued(): Promise<void> {
    const queued = this.#queue;
    this.#queue = [];
    if (queued.length === 1) {
      const only = queued[0] as Queued;
      this.#recordOne(only.event).then(only.resolve, only.reject);
      return;
    }
    const events = queued.map((q) => q.event);
    try {
      const { counted, failed, error } = await this.writeSettled(events);
      const lost = new Set(failed);
      queued.forEach((q, i) => {
        if (lost.has(q.event)) q.reject(error);
        else q.resolve(counted[i] as boolean);
      });
    } catch (error) {
      for (const q of queued) q.reject(error);
    }
  }

  async #recordOne(event: PendingEvent): Promise<boolean> {
    if (event.dedupeBy !== undefined) return (await this.write([event]))[0] as boolean;
    if (event.bucket < this.#oldestBucket()) return false;
    const args: (string | number)[] = [
      this.#t.layout,
      this.#t.conservative ? '1' : '0',
      this.#t.cells,
      (event.bucket + 1) * this.bucketMs + this.windowMs,
      this.topK,
      event.item,
      event.n,
    ];
    pushCounterIndexes(args, event.item, this.width, this.depth);
    const reply = await call(this.#t, 'record', () =>
      recordScript.run(
        this.#t.client,
        [
          this.#t.meta,
          `${this.#t.base}:c:${event.bucket}`,
          `${this.#t.base}:t:${event.bucket}`,
          `${this.#t.base}:o:${event.bucket}`,
        ],
        args,
      ),
    );
    payload(reply, this.#t.meta, this.#t.layout);
    return true;
  }

  #oldestBucket(): number {
    return Math.floor(this.#clock() / this.bucketMs) - this.windowMs / this.bucketMs;
  }

  /** {@link record} for many events in one round trip; resolves to one "counted" flag per event. */
  async recordMany(
    events: readonly (readonly [Item, number?, RecordOptions?])[],
  ): Promise<boolean[]> {
    const prepared = list('events', events).map((e, i) => {
      if (!Array.isArray(e)) throw new TypeError(`events[${i}] must be [item, n?, options?]`);
      return this.prepare(e[0], e[1] ?? 1, e[2], `events[${i}]`);
    });
    return this.write(prepared);
  }

  /**
   * The `n` (1..topK) items with the highest estimates in the window, best first (ties by item).
   * Two round trips: the merged candidate sets, then exact sketch estimates of the best 2·topK.
   */
  async top(n: number, options?: QueryOptions): Promise<TrendingItem[]> {
    check.integer('n', n, { min: 1, max: this.topK });
    const buckets = this.#windowBuckets(options);
    const flat = (await call(this.#t, 'top', () =>
      candidatesScript.run(
        this.#t.client,
        buckets.map((b) => `${this.#t.base}:t:${b}`),
        [2 * this.topK],
      ),
    )) as string[];
    const candidates: string[] = [];
    for (let i = 0; i < flat.length; i += 2) candidates.push(flat[i] as string);
    const [total, estimates] = await this.#estimate(buckets, candidates);
    const errorBound = this.epsilon * total;
    return candidates
      .map((c, i) => ({ item: c, estimate: estimates[i] as number, errorBound }))
      .sort((a, b) => b.estimate - a.estimate || (a.item < b.item ? -1 : a.item > b.item ? 1 : 0))
      .slice(0, n);
  }

  /** Estimated count of `item` in the window (never below the true count). */
  async estimate(value: Item, options?: QueryOptions): Promise<number> {
    const [estimate] = await this.estimateMany([value], options);
    return estimate as number;
  }

  /** Window estimates of many items, in order. */
  async estimateMany(values: readonly Item[], options?: QueryOptions): Promise<number[]> {
    const items = list('items', values).map((v, i) => item(`items[${i}]`, v));
    const [, estimates] = await this.#estimate(this.#windowBuckets(options), items);
    return estimates;
  }

  /** Sum of all counted increments in the window. */
  async total(options?: QueryOptions): Promise<number> {
    const [total] = await this.#estimate(this.#windowBuckets(options), []);
    return total;
  }

  /**
   * An in-process buffer in front of this Trending: `record()` is synchronous and only aggregates in a
   * Map; a flush sends everything in one round trip, every `flushMs`, when `maxItems` distinct
   * entries are pending, on `flush()` and on `close()`. A failed flush keeps its counts for the next.
   */
  buffered(options?: BufferedTrendingOptions): BufferedTrending {
    return new BufferedTrending(
      {
        prepare: (value, n, opts, into) => this.prepare(value, n, opts, 'record', into),
        write: (events) => this.writeSettled(events, true),
      },
      options,
    );
  }

  /** @internal Validate one event and place it in its bucket (in `into` if given, else a new object). */
  prepare(
    value: unknown,
    n: unknown,
    options: unknown,
    name: string,
    into?: PendingEvent,
  ): PendingEvent {
    // hot path (buffered record): the common valid cases are checked inline, without building the
    // names used in error messages
    const it =
      typeof value === 'string' &&
      value.length > 0 &&
      value.length <= 341 &&
      check.isWellFormed(value)
        ? value
        : item(`${name} item`, value);
    const count =
      typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_INCREMENT
        ? n
        : increment(`${name} n`, n);
    const now = this.#clock();
    let at = now;
    let by: string | undefined;
    if (options !== undefined) {
      // hot path (buffered record): checked by hand rather than with mergeOptions, same rules
      const o = check.plainObject(`${name} options`, options);
      for (const key in o) {
        if (key !== 'at' && key !== 'dedupeBy') {
          throw new TypeError(`${name} options: unknown option '${key}' (known: at, dedupeBy)`);
        }
      }
      if (o.at !== undefined) at = check.date(`${name} options.at`, o.at).getTime();
      if (o.dedupeBy !== undefined) by = item(`${name} options.dedupeBy`, o.dedupeBy);
    }
    if (at > now + this.bucketMs) {
      throw new RangeError(
        `${name} options.at is more than one bucket in the future (${new Date(at).toISOString()})`,
      );
    }
    const bucket = Math.floor(at / this.bucketMs);
    if (into === undefined) return { bucket, item: it, n: count, dedupeBy: by };
    into.bucket = bucket;
    into.item = it;
    into.n = count;
    into.dedupeBy = by;
    return into;
  }

  /** @internal Write prepared events; those whose bucket left the window are dropped (false). */
  async write(events: readonly PendingEvent[]): Promise<boolean[]> {
    const { counted, failed, error } = await this.writeSettled(events);
    if (failed.length > 0) throw error;
    return counted;
  }

  /**
   * @internal {@link write}, reporting the events of failed script calls (to be retried) and the first
   * error instead of rejecting. `unique`: no two events without dedupeBy share (bucket, item).
   */
  writeSettled(events: readonly PendingEvent[], unique = false): Promise<WriteOutcome> {
    return writeSettled(this.#t, events, this.#oldestBucket(), unique);
  }

  #windowBuckets(options: unknown): number[] {
    const o = check.mergeOptions(
      'query options',
      { window: undefined, at: undefined },
      options,
    ) as QueryOptions;
    const windowMs = o.window === undefined ? this.windowMs : duration('options.window', o.window);
    if (windowMs > this.windowMs || windowMs % this.bucketMs !== 0) {
      throw new RangeError(
        `options.window (${windowMs} ms) must be a whole number of buckets (${this.bucketMs} ms) and at most the configured window (${this.windowMs} ms)`,
      );
    }
    const at = o.at === undefined ? this.#clock() : check.date('options.at', o.at).getTime();
    const current = Math.floor(at / this.bucketMs);
    const buckets: number[] = [];
    for (let b = current - windowMs / this.bucketMs; b <= current; b++) buckets.push(b);
    return buckets;
  }

  async #estimate(buckets: number[], items: string[]): Promise<[number, number[]]> {
    const keys = [this.#t.meta];
    for (const b of buckets) keys.push(`${this.#t.base}:c:${b}`, `${this.#t.base}:o:${b}`);
    const calls: Call[] = [];
    for (let start = 0; start === 0 || start < items.length; start += CHUNK) {
      const args: (string | number)[] = [this.#t.layout, this.depth, this.#t.cells];
      for (const value of items.slice(start, start + CHUNK)) {
        pushCounterIndexes(args, value, this.width, this.depth);
      }
      calls.push({ keys, args });
    }
    const replies = await runAll(this.#t, 'estimate', estimateScript, calls);
    let total = 0;
    const estimates: number[] = [];
    replies.forEach((reply, i) => {
      const [t, ...e] = payload(reply, this.#t.meta, this.#t.layout) as number[];
      if (i === 0) total = t as number;
      estimates.push(...e);
    });
    return [total, estimates];
  }
}
