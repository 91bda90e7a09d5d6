// A deterministic Zipf(s) stream for the sketch benchmark.

/** mulberry32: a small seeded PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `events` item names (`p<rank>`) drawn from Zipf(s) over `items` ranks. */
export function zipfItems(events: number, items: number, s: number, seed: number): string[] {
  const cdf = new Float64Array(items);
  let sum = 0;
  for (let k = 0; k < items; k++) {
    sum += 1 / (k + 1) ** s;
    cdf[k] = sum;
  }
  const names = Array.from({ length: items }, (_, k) => `p${k}`);
  const random = prng(seed);
  const out: string[] = new Array(events);
  for (let i = 0; i < events; i++) {
    const u = random() * sum;
    let lo = 0;
    let hi = items - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    out[i] = names[lo] as string;
  }
  return out;
}
