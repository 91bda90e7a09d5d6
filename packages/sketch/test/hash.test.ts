import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HASH_VERSION, hash2, hashes, indexOf } from '../src/hash.js';
import { counterIndexes } from '../src/index.js';

function h(value: string): [number, number] {
  hash2(value);
  return [hashes[0] as number, hashes[1] as number];
}

// Reference MurmurHash3 x86_32 over bytes, written plainly, to check the optimised version.
function murmur3(bytes: Uint8Array, seed: number): number {
  let h1 = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    let k = new DataView(bytes.buffer, bytes.byteOffset).getUint32(i * 4, true);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h1 ^= k;
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const t = blocks * 4;
  const rem = bytes.length & 3;
  if (rem === 3) k ^= (bytes[t + 2] as number) << 16;
  if (rem >= 2) k ^= (bytes[t + 1] as number) << 8;
  if (rem >= 1) {
    k ^= bytes[t] as number;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h1 ^= k;
  }
  h1 ^= bytes.length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

describe('hash (MurmurHash3 x86_32, two seeds, UTF-8)', () => {
  it('matches published MurmurHash3 test vectors', () => {
    expect(h('')[0]).toBe(0);
    expect(h('hello')[0]).toBe(0x248bfa47);
    expect(h('Hello, world!')[1]).toBe(0x24884cba); // seed 0x9747b28c
    expect(h('The quick brown fox jumps over the lazy dog')[1]).toBe(0x2fa826cd);
  });

  it('hashes the UTF-8 bytes, on the ASCII fast path and the encoded path alike', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const bytes = new TextEncoder().encode(s);
        const [a, b] = h(s);
        expect(a).toBe(murmur3(bytes, 0));
        expect(b).toBe(murmur3(bytes, 0x9747b28c));
      }),
      { numRuns: 500 },
    );
  });

  it('gives indices in range, with a stable documented version', () => {
    expect(HASH_VERSION).toBe('m3x2edh1');
    hash2('product-42');
    const idx = [0, 1, 2, 3, 4].map((i) => indexOf(i, 2719));
    for (const i of idx) expect(i).toBeGreaterThanOrEqual(0);
    for (const i of idx) expect(i).toBeLessThan(2719);
    // Pinned: changing the hash or the index scheme must come with a new HASH_VERSION.
    // Enhanced double hashing, in its incremental form (Dillinger & Manolios): x += y; y += i.
    let x = (hashes[0] as number) % 2719;
    let y = (hashes[1] as number) % 2719;
    const incremental = [x];
    for (let i = 1; i < 5; i++) {
      x = (x + y) % 2719;
      y = (y + i) % 2719;
      incremental.push(x);
    }
    expect(idx).toEqual(incremental);
    expect(h('product-42')).toEqual([
      murmur3(new TextEncoder().encode('product-42'), 0),
      murmur3(new TextEncoder().encode('product-42'), 0x9747b28c),
    ]);
  });
});

describe('counterIndexes', () => {
  it('gives one index per row, inside that row', () => {
    const idx = counterIndexes('product-42', 2719, 5);
    expect(idx).toHaveLength(5);
    idx.forEach((x, r) => {
      expect(x).toBeGreaterThanOrEqual(r * 2719);
      expect(x).toBeLessThan((r + 1) * 2719);
    });
    expect(counterIndexes(42, 100, 3)).toEqual(counterIndexes('42', 100, 3));
    expect(() => counterIndexes('a', 0, 3)).toThrow(RangeError);
  });
});
