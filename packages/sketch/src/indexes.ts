import { check } from '@boxoffice/internal';
import { hash2, indexOf } from './hash.js';
import { type Item, item } from './input.js';
import { MAX_COUNTERS, MAX_DEPTH } from './sizing.js';

/**
 * The counter indexes (row · width + column, one per row) `item` maps to in a width × depth sketch —
 * the documented hash (see {@link HASH_VERSION}) for tools or other languages that read the sketch.
 */
export function counterIndexes(value: Item, width: number, depth: number): number[] {
  const it = item('item', value);
  check.integer('width', width, { min: 1, max: MAX_COUNTERS });
  check.integer('depth', depth, { min: 1, max: MAX_DEPTH });
  hash2(it);
  const out: number[] = new Array(depth);
  for (let r = 0; r < depth; r++) out[r] = r * width + indexOf(r, width);
  return out;
}
