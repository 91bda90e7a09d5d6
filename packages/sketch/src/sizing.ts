import { check } from '@boxoffice/internal';

/** Largest Count-Min Sketch: width × depth ≤ 2^24 counters (64 MiB of 32-bit counters). */
export const MAX_COUNTERS = 2 ** 24;
/** Largest depth (rows). δ = 1e-9 needs 21 rows. */
export const MAX_DEPTH = 32;
/** Largest Bloom filter: 2^32 bits (512 MiB, the largest Redis string). */
export const MAX_BITS = 2 ** 32;
/** Largest number of Bloom hash functions. */
export const MAX_HASHES = 32;
/** Counters are unsigned 32-bit and saturate at this value instead of wrapping. */
export const COUNTER_MAX = 4_294_967_295;

/** Width and depth of a Count-Min Sketch. */
export interface CmsSize {
  width: number;
  depth: number;
}

/**
 * Size a sketch from the textbook formulas (width = ⌈e/ε⌉, depth = ⌈ln(1/δ)⌉), or take an explicit
 * width/depth; either way the result must fit {@link MAX_COUNTERS}.
 */
export function cmsSize(
  owner: string,
  o: {
    epsilon?: number | undefined;
    delta?: number | undefined;
    width?: number | undefined;
    depth?: number | undefined;
  },
): CmsSize {
  let width: number;
  let depth: number;
  if (o.width !== undefined || o.depth !== undefined) {
    if (o.epsilon !== undefined || o.delta !== undefined) {
      throw new TypeError(`${owner}: give either epsilon/delta or width/depth, not both`);
    }
    width = check.integer(`${owner}.width`, o.width, { min: 1, max: MAX_COUNTERS });
    depth = check.integer(`${owner}.depth`, o.depth, { min: 1, max: MAX_DEPTH });
  } else {
    const epsilon = check.openInterval(`${owner}.epsilon`, o.epsilon ?? 0.001, 0, 1);
    const delta = check.openInterval(`${owner}.delta`, o.delta ?? 0.01, 0, 1);
    width = Math.ceil(Math.E / epsilon);
    depth = Math.max(1, Math.ceil(Math.log(1 / delta)));
    if (depth > MAX_DEPTH) {
      throw new RangeError(`${owner}.delta ${delta} needs ${depth} rows, more than ${MAX_DEPTH}`);
    }
  }
  if (width * depth > MAX_COUNTERS) {
    throw new RangeError(
      `${owner}: width × depth = ${width} × ${depth} = ${width * depth} counters exceeds the limit of ${MAX_COUNTERS} (64 MiB)`,
    );
  }
  return { width, depth };
}

/** Size of a Bloom filter. */
export interface BloomSize {
  bits: number;
  hashes: number;
}

/** m = ⌈−n·ln p / (ln 2)²⌉ bits, k = round(m/n · ln 2) hash functions. */
export function bloomSize(owner: string, capacity: unknown, errorRate: unknown): BloomSize {
  const n = check.integer(`${owner}.capacity`, capacity, { min: 1, max: 2 ** 32 });
  const p = check.openInterval(`${owner}.errorRate`, errorRate, 0, 1);
  const bits = Math.ceil((-n * Math.log(p)) / Math.LN2 ** 2);
  if (bits > MAX_BITS) {
    throw new RangeError(
      `${owner}: capacity ${n} at errorRate ${p} needs ${bits} bits, more than the limit of ${MAX_BITS} (512 MiB)`,
    );
  }
  const hashes = Math.min(MAX_HASHES, Math.max(1, Math.round((bits / n) * Math.LN2)));
  return { bits, hashes };
}
