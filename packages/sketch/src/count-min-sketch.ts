import { check, ioredisClient, keyPrefix, luaScript, type RedisClient } from '@boxoffice/internal';
import {
  type Bounded,
  bounded,
  type Call,
  CHUNK,
  COMMAND_TIMEOUT_MS,
  call,
  payload,
  runAll,
} from './batch.js';
import { SketchError, SketchLayoutError } from './errors.js';
import { HASH_VERSION, pushCounterOffsets } from './hash.js';
import { type Item, increment, item, list, tagged } from './input.js';
import addLua from './lua/cms-add.lua';
import mergeLua from './lua/cms-merge.lua';
import readLua from './lua/cms-read.lua';
import bitfieldLua from './lua/include/bitfield.lua';
import layoutLua from './lua/include/layout.lua';
import { COUNTER_MAX, cmsSize } from './sizing.js';

const v = __PACKAGE_VERSION__;
const counters = { includes: [bitfieldLua, layoutLua] };
const addScript = luaScript('sketch', 'cms_add', addLua, v, counters);
const readScript = luaScript('sketch', 'cms_read', readLua, v, counters);
const mergeScript = luaScript('sketch', 'cms_merge', mergeLua, v, { includes: [layoutLua] });

/** Options of {@link CountMinSketch}. Give `epsilon`/`delta` or `width`/`depth`, not both. */
export interface CountMinSketchOptions {
  /** Name of the sketch (a `{tag}` in it is kept, so related sketches can share a Cluster slot). */
  key: string;
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Relative error: estimates exceed the true count by at most ε × total with probability 1 − δ. @defaultValue 0.001 */
  epsilon?: number;
  /** Failure probability of the ε bound. @defaultValue 0.01 */
  delta?: number;
  /** Counters per row (instead of epsilon: width = ⌈e/ε⌉). @defaultValue undefined */
  width?: number;
  /** Rows (instead of delta: depth = ⌈ln(1/δ)⌉). @defaultValue undefined */
  depth?: number;
  /** Conservative update: raise only the counters below the new minimum (smaller overcount, same guarantee). @defaultValue true */
  conservative?: boolean;
  /**
   * Longest wait for one Redis call (the same option in every boxoffice package): past it the call
   * fails with {@link SketchRedisError} of kind `timeout`, at once with kind `unavailable` while the
   * client is reconnecting or closed. @defaultValue 2000
   */
  commandTimeoutMs?: number;
}

const DEFAULTS: Readonly<CountMinSketchOptions> = Object.freeze({
  key: '',
  prefix: 'bo',
  epsilon: undefined,
  delta: undefined,
  width: undefined,
  depth: undefined,
  conservative: true,
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
});

/** An item with its increment, or an item alone (increment 1). */
export type Entry = Item | readonly [Item, number];

/**
 * A Count-Min Sketch in Redis, shared by every process that uses the same key and sizing: one string of
 * depth × width saturating 32-bit counters (BITFIELD) plus a 64-bit total, and a metadata hash that
 * records the layout. Estimates never undercount; they exceed the true count by at most ε × total
 * with probability 1 − δ.
 */
export class CountMinSketch {
  /** Counters per row. */
  readonly width: number;
  /** Rows (hash functions). */
  readonly depth: number;
  /** The Redis key of the counters string. */
  readonly redisKey: string;
  /** The Redis key of the metadata hash. */
  readonly metaKey: string;
  /** ε = e / width, the relative error bound. */
  readonly epsilon: number;
  readonly #r: Bounded;
  readonly #prefix: string;
  readonly #conservative: boolean;
  readonly #layout: string;
  readonly #totalOffset: number;

  constructor(client: RedisClient, options: CountMinSketchOptions) {
    ioredisClient('client', client);
    const o = check.mergeOptions('CountMinSketch options', DEFAULTS, options);
    const name = tagged('CountMinSketch.key', o.key);
    this.#prefix = keyPrefix('CountMinSketch.prefix', o.prefix);
    this.#conservative = check.boolean('CountMinSketch.conservative', o.conservative);
    const { width, depth } = cmsSize('CountMinSketch', o);
    this.#r = bounded('CountMinSketch', client, o.commandTimeoutMs);
    this.width = width;
    this.depth = depth;
    this.epsilon = Math.E / width;
    this.redisKey = this.#keyOf(name);
    this.metaKey = `${this.redisKey}:meta`;
    this.#layout = `cms1:${HASH_VERSION}:w${width}:d${depth}`;
    this.#totalOffset = width * depth * 32;
  }

  #keyOf(name: string): string {
    return `${this.#prefix}:cms:${name}`;
  }

  /** Add `n` (an integer in [1, 2^31]) to `item`; resolves to the item's estimate afterwards. */
  async add(value: Item, n = 1): Promise<number> {
    const [estimate] = await this.#add([[item('item', value), increment('n', n)]]);
    return estimate as number;
  }

  /** Add many items in few round trips; resolves to each item's estimate right after its update. */
  async addMany(entries: readonly Entry[]): Promise<number[]> {
    const items = list('entries', entries).map((e, i): [string, number] =>
      Array.isArray(e)
        ? [item(`entries[${i}][0]`, e[0]), increment(`entries[${i}][1]`, e[1])]
        : [item(`entries[${i}]`, e), 1],
    );
    return this.#add(items);
  }

  async #add(items: [string, number][]): Promise<number[]> {
    const calls: Call[] = [];
    for (let start = 0; start < items.length; start += CHUNK) {
      const args: (string | number)[] = [
        this.#layout,
        this.width,
        this.depth,
        this.#conservative ? '1' : '0',
        this.#totalOffset,
      ];
      for (const [value, n] of items.slice(start, start + CHUNK)) {
        args.push(n);
        pushCounterOffsets(args, value, this.width, this.depth);
      }
      calls.push({ keys: [this.metaKey, this.redisKey], args });
    }
    const replies = await runAll(this.#r, 'add', addScript, calls);
    return replies.flatMap((r) => payload(r, this.metaKey, this.#layout) as number[]);
  }

  /** The estimated count of `item` (never less than the true count). */
  async estimate(value: Item): Promise<number> {
    const [estimate] = await this.#read([item('item', value)]);
    return estimate as number;
  }

  /** Estimates of many items, in order. */
  async estimateMany(values: readonly Item[]): Promise<number[]> {
    return this.#read(list('items', values).map((v, i) => item(`items[${i}]`, v)));
  }

  /** Sum of all increments added (including merged sketches). */
  async total(): Promise<number> {
    return (await this.#readAll([]))[0] as number;
  }

  async #read(items: string[]): Promise<number[]> {
    return (await this.#readAll(items)).slice(1);
  }

  // → [total, ...estimates]
  async #readAll(items: string[]): Promise<number[]> {
    const calls: Call[] = [];
    for (let start = 0; start === 0 || start < items.length; start += CHUNK) {
      const args: (string | number)[] = [this.#layout, this.depth, this.#totalOffset];
      for (const value of items.slice(start, start + CHUNK)) {
        pushCounterOffsets(args, value, this.width, this.depth);
      }
      calls.push({ keys: [this.metaKey, this.redisKey], args });
    }
    const replies = await runAll(this.#r, 'estimate', readScript, calls);
    const out: number[] = [];
    replies.forEach((r, i) => {
      const [total, ...estimates] = payload(r, this.metaKey, this.#layout) as number[];
      if (i === 0) out.push(total as number);
      out.push(...estimates);
    });
    return out;
  }

  /**
   * Add the sketches stored under `keys` (same prefix, same width/depth) into this one, counter by
   * counter. The sources are read first (they may live in other Cluster slots), then added atomically
   * here; a source that does not exist counts as empty. Afterwards this sketch equals the sketch of
   * the union of the streams (exactly, when all were built without conservative update; otherwise an
   * upper bound with the same ε guarantee).
   */
  async merge(keys: readonly string[]): Promise<void> {
    const names = list('keys', keys).map((k, i) => tagged(`keys[${i}]`, k));
    const counters = this.width * this.depth;
    const sum = new Uint32Array(counters);
    let totals = 0;
    for (const name of names) {
      const key = this.#keyOf(name);
      if (key === this.redisKey) throw new RangeError(`merge: cannot merge ${key} into itself`);
      const metaKey = `${key}:meta`;
      const { client } = this.#r;
      const [layout, blob] = await call(this.#r, 'merge', () =>
        Promise.all([client.hget(metaKey, 'layout'), client.getBuffer(key)]),
      );
      if (blob === null) continue;
      if (layout !== this.#layout) {
        throw new SketchLayoutError(metaKey, this.#layout, String(layout));
      }
      if (blob.length < counters * 4 + 8) {
        throw new SketchError(
          'SKETCH_CORRUPT',
          `${key} is ${blob.length} bytes, expected ${counters * 4 + 8}`,
        );
      }
      for (let c = 0; c < counters; c++) {
        sum[c] = Math.min(COUNTER_MAX, (sum[c] as number) + blob.readUInt32BE(c * 4));
      }
      totals += Number(blob.readBigInt64BE(counters * 4));
    }
    const bytes = Buffer.alloc(counters * 4);
    for (let c = 0; c < counters; c++) bytes.writeUInt32BE(sum[c] as number, c * 4);
    const reply = await call(this.#r, 'merge', () =>
      mergeScript.run(
        this.#r.client,
        [this.metaKey, this.redisKey],
        [
          this.#layout,
          this.width,
          this.depth,
          this.#totalOffset,
          bytes as unknown as string,
          totals,
        ],
      ),
    );
    payload(reply, this.metaKey, this.#layout);
  }
}
