import { check, ioredisClient, keyPrefix, luaScript, type RedisClient } from '@boxoffice/internal';
import {
  type Bounded,
  bounded,
  type Call,
  CHUNK,
  COMMAND_TIMEOUT_MS,
  payload,
  runAll,
} from './batch.js';
import { HASH_VERSION, pushBitPositions } from './hash.js';
import { type Item, item, list, tagged } from './input.js';
import addLua from './lua/bf-add.lua';
import hasLua from './lua/bf-has.lua';
import bitfieldLua from './lua/include/bitfield.lua';
import layoutLua from './lua/include/layout.lua';
import { bloomSize } from './sizing.js';

const includes = [bitfieldLua, layoutLua];
const addScript = luaScript('sketch', 'bf_add', addLua, __PACKAGE_VERSION__, { includes });
const hasScript = luaScript('sketch', 'bf_has', hasLua, __PACKAGE_VERSION__, { includes });

/** Options of {@link BloomFilter}. */
export interface BloomFilterOptions {
  /** Name of the filter (a `{tag}` in it is kept). */
  key: string;
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Number of distinct items the filter is sized for. @defaultValue 1_000_000 */
  capacity?: number;
  /** False-positive rate at `capacity` items, in (0, 1). @defaultValue 0.001 */
  errorRate?: number;
  /**
   * Longest wait for one Redis call (the same option in every boxoffice package): past it the call
   * fails with `SketchRedisError` of kind `timeout`, at once with kind `unavailable` while the
   * client is reconnecting or closed. @defaultValue 2000
   */
  commandTimeoutMs?: number;
}

const DEFAULTS: Readonly<BloomFilterOptions> = Object.freeze({
  key: '',
  prefix: 'bo',
  capacity: 1_000_000,
  errorRate: 0.001,
  commandTimeoutMs: COMMAND_TIMEOUT_MS,
});

/**
 * A Bloom filter in Redis: one bit string of m = ⌈−n·ln p / (ln 2)²⌉ bits and k = round(m/n · ln 2)
 * bit positions per item, computed in TypeScript and set/tested atomically in Lua. No false
 * negatives; false positives at about `errorRate` once `capacity` distinct items were added.
 */
export class BloomFilter {
  /** Bits in the filter (m). */
  readonly bits: number;
  /** Bit positions per item (k). */
  readonly hashes: number;
  /** The Redis key of the bit string. */
  readonly redisKey: string;
  /** The Redis key of the metadata hash. */
  readonly metaKey: string;
  readonly #r: Bounded;
  readonly #layout: string;

  constructor(client: RedisClient, options: BloomFilterOptions) {
    ioredisClient('client', client);
    const o = check.mergeOptions('BloomFilter options', DEFAULTS, options);
    const name = tagged('BloomFilter.key', o.key);
    const prefix = keyPrefix('BloomFilter.prefix', o.prefix);
    const { bits, hashes } = bloomSize('BloomFilter', o.capacity, o.errorRate);
    this.#r = bounded('BloomFilter', client, o.commandTimeoutMs);
    this.bits = bits;
    this.hashes = hashes;
    this.redisKey = `${prefix}:bf:${name}`;
    this.metaKey = `${this.redisKey}:meta`;
    this.#layout = `bf1:${HASH_VERSION}:m${bits}:k${hashes}`;
  }

  /** Add `item`; resolves to true if it was new (false: it was, or looks, already present). */
  async add(value: Item): Promise<boolean> {
    const [added] = await this.#run(addScript, [item('item', value)], true);
    return added as boolean;
  }

  /** Add many items; resolves to one "was new" flag per item, in order. */
  async addMany(values: readonly Item[]): Promise<boolean[]> {
    return this.#run(
      addScript,
      list('items', values).map((v, i) => item(`items[${i}]`, v)),
      true,
    );
  }

  /** True if `item` may have been added (false positives at about errorRate), false if it never was. */
  async has(value: Item): Promise<boolean> {
    const [present] = await this.#run(hasScript, [item('item', value)], false);
    return present as boolean;
  }

  /** {@link has} for many items. */
  async hasMany(values: readonly Item[]): Promise<boolean[]> {
    return this.#run(
      hasScript,
      list('items', values).map((v, i) => item(`items[${i}]`, v)),
      false,
    );
  }

  async #run(script: typeof addScript, items: string[], write: boolean): Promise<boolean[]> {
    if (items.length === 0) return [];
    const calls: Call[] = [];
    for (let start = 0; start < items.length; start += CHUNK) {
      const args: (string | number)[] = write
        ? [this.#layout, this.bits, this.hashes]
        : [this.#layout, this.hashes];
      for (const value of items.slice(start, start + CHUNK)) {
        pushBitPositions(args, value, this.bits, this.hashes);
      }
      calls.push({ keys: [this.metaKey, this.redisKey], args });
    }
    const replies = await runAll(this.#r, write ? 'add' : 'has', script, calls);
    return replies.flatMap((r) =>
      (payload(r, this.metaKey, this.#layout) as number[]).map((x) => x === 1),
    );
  }
}
