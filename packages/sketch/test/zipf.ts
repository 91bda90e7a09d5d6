// Deterministic Zipf streams for the tests (no Redis here).

/** mulberry32: a small seeded PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `events` draws (item ids `p<rank>`) from Zipf(s) over `items` ranks, as an array of rank indices. */
export function zipfStream(events: number, items: number, s: number, seed: number): Uint32Array {
  const cdf = new Float64Array(items);
  let sum = 0;
  for (let k = 0; k < items; k++) {
    sum += 1 / (k + 1) ** s;
    cdf[k] = sum;
  }
  const random = prng(seed);
  const out = new Uint32Array(events);
  for (let i = 0; i < events; i++) {
    const u = random() * sum;
    let lo = 0;
    let hi = items - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/** Exact counts per item name. */
export function exactCounts(stream: Uint32Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const rank of stream) {
    const item = `p${rank}`;
    counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  return counts;
}

/** The `n` items with the highest counts (ties by name). */
export function exactTop(counts: Map<string, number>, n: number): string[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n)
    .map(([item]) => item);
}
