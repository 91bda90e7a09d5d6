// The benchmark draws the same deterministic Zipf streams as the sketch tests (one generator, kept
// with the tests), as item names.
import { zipfStream } from '../../packages/sketch/test/zipf.js';

/** `events` item names (`p<rank>`) drawn from Zipf(s) over `items` ranks. */
export function zipfItems(events: number, items: number, s: number, seed: number): string[] {
  const names = Array.from({ length: items }, (_, k) => `p${k}`);
  return Array.from(zipfStream(events, items, s, seed), (rank) => names[rank] as string);
}
