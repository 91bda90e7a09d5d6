// The one hash every sketch uses, so that processes and versions agree on where an item lands:
// MurmurHash3 x86_32 of the item's UTF-8 bytes, computed twice in one pass (seed 0 → h1,
// seed 0x9747b28c → h2). Row/bit i of an item is (h1 + i·h2 + (i³ − i)/6) mod size (enhanced
// double hashing, Dillinger & Manolios 2004). Plain double hashing, (h1 + i·h2) mod size (version
// 'm3x2km1'), let positions of different items coincide far more often than independent hashes in
// small Bloom filters (capacity 256 at 0.0001: 3.7× the false-positive rate); the cubic term breaks
// those patterns. Changing any of this requires a new HASH_VERSION, which the stored layout records.

/** Identifies the hash and index scheme; part of every stored layout. */
export const HASH_VERSION = 'm3x2edh1';

const SEED2 = 0x9747b28c;
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

const encoder = new TextEncoder();
let scratch = new Uint8Array(4096);

/** The two 32-bit hashes of the last {@link hash2} call (avoids allocating a pair per call). */
export const hashes = new Uint32Array(2);

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number, len: number): number {
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function tail(h: number, k: number, rem: number): number {
  return rem > 0 ? h ^ mixK(k) : h;
}

function hashBytes(bytes: Uint8Array, len: number): void {
  let a = 0;
  let b = SEED2;
  const blocks = len & ~3;
  for (let i = 0; i < blocks; i += 4) {
    const k = mixK(
      (bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24),
    );
    a = mixH(a, k);
    b = mixH(b, k);
  }
  let k = 0;
  const rem = len & 3;
  if (rem === 3) k ^= (bytes[blocks + 2] as number) << 16;
  if (rem >= 2) k ^= (bytes[blocks + 1] as number) << 8;
  if (rem >= 1) k ^= bytes[blocks] as number;
  hashes[0] = fmix(tail(a, k, rem), len);
  hashes[1] = fmix(tail(b, k, rem), len);
}

/**
 * Hash `value` (its UTF-8 bytes) into {@link hashes}. ASCII strings, the common case for ids, are
 * read straight from the string; anything else is UTF-8 encoded first.
 */
export function hash2(value: string): void {
  const len = value.length;
  let a = 0;
  let b = SEED2;
  const blocks = len & ~3;
  let i = 0;
  for (; i < blocks; i += 4) {
    const c0 = value.charCodeAt(i);
    const c1 = value.charCodeAt(i + 1);
    const c2 = value.charCodeAt(i + 2);
    const c3 = value.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) > 0x7f) {
      slow(value);
      return;
    }
    const k = mixK(c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
    a = mixH(a, k);
    b = mixH(b, k);
  }
  let k = 0;
  const rem = len & 3;
  for (let j = rem - 1; j >= 0; j--) {
    const c = value.charCodeAt(blocks + j);
    if (c > 0x7f) {
      slow(value);
      return;
    }
    k ^= c << (8 * j);
  }
  hashes[0] = fmix(tail(a, k, rem), len);
  hashes[1] = fmix(tail(b, k, rem), len);
}

function slow(value: string): void {
  if (value.length * 3 > scratch.length) scratch = new Uint8Array(value.length * 3);
  const { written } = encoder.encodeInto(value, scratch);
  hashBytes(scratch, written);
}

/** Index i (0-based) of `count` indices in [0, size) for the hashes in {@link hashes}. */
export function indexOf(i: number, size: number): number {
  // Exact in doubles: below 2^32 · 34 for i ≤ 32.
  return ((hashes[0] as number) + i * (hashes[1] as number) + (i * i * i - i) / 6) % size;
}

/** Append the `depth` counter offsets of `value` (BITFIELD `#<row·width+col>` form) to `args`. */
export function pushCounterOffsets(
  args: (string | number)[],
  value: string,
  width: number,
  depth: number,
): void {
  hash2(value);
  for (let r = 0; r < depth; r++) args.push(`#${r * width + indexOf(r, width)}`);
}

/** Append the `depth` counter indexes of `value` (row·width + column, 0-based numbers) to `args`. */
export function pushCounterIndexes(
  args: (string | number)[],
  value: string,
  width: number,
  depth: number,
): void {
  hash2(value);
  for (let r = 0; r < depth; r++) args.push(r * width + indexOf(r, width));
}

/** Append the `hashes` Bloom bit positions of `value` to `args`. */
export function pushBitPositions(
  args: (string | number)[],
  value: string,
  bits: number,
  count: number,
): void {
  hash2(value);
  for (let i = 0; i < count; i++) args.push(indexOf(i, bits));
}

/**
 * Write the `depth` counter indexes of `value` (row·width + column) as unsigned 32-bit big-endian
 * words into `out` at byte `at`; returns the byte after them.
 */
export function packCounterIndexes(
  out: Buffer,
  at: number,
  value: string,
  width: number,
  depth: number,
): number {
  hash2(value);
  for (let r = 0; r < depth; r++) {
    out.writeUInt32BE(r * width + indexOf(r, width), at);
    at += 4;
  }
  return at;
}
