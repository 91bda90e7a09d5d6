/** The version of @boxoffice/sketch this build is (from its package.json). */
export const VERSION: string = __PACKAGE_VERSION__;

export { BloomFilter, type BloomFilterOptions } from './bloom-filter.js';
export { BufferedTrending, type BufferedTrendingOptions } from './buffered-trending.js';
export { CountMinSketch, type CountMinSketchOptions, type Entry } from './count-min-sketch.js';
export {
  FlushError,
  type RedisFailureKind,
  SketchError,
  SketchLayoutError,
  SketchRedisError,
} from './errors.js';
export { HASH_VERSION } from './hash.js';
export { counterIndexes } from './indexes.js';
export {
  type Duration,
  type Item,
  MAX_INCREMENT,
  MAX_ITEM_BYTES,
  type RecordOptions,
} from './input.js';
export { COUNTER_MAX, MAX_BITS, MAX_COUNTERS, MAX_DEPTH } from './sizing.js';
export {
  MAX_BUCKETS,
  type QueryOptions,
  Trending,
  type TrendingItem,
  type TrendingOptions,
} from './trending.js';
