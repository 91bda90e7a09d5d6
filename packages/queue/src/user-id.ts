import { check } from '@boxoffice/internal';

/** Value of each lowercase hex digit by char code, -1 for anything else. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX['0123456789abcdef'.charCodeAt(i)] = i;

/**
 * How a user id is stored in Redis. A canonical lowercase UUID (the common case) becomes 20 bytes,
 * `\x01` + its 128 bits in nineteen 7-bit characters, instead of 36: a smaller allocation for every
 * ZSET member, which is most of the memory a waiting user costs. 7-bit characters keep it a plain
 * (ASCII) string for the client, since Buffer arguments cost more to send. Any other id is stored as
 * is; validated ids are printable, so they never start with `\x01` and the two forms cannot collide.
 * Stored ids that scripts return are decoded with {@link decodeUserId}.
 */
export function encodeUserId(id: string): string {
  // Canonical form: 8-4-4-4-12 lowercase hex digits (checked char by char: this runs on every call).
  if (
    id.length !== 36 ||
    id.charCodeAt(8) !== 45 ||
    id.charCodeAt(13) !== 45 ||
    id.charCodeAt(18) !== 45 ||
    id.charCodeAt(23) !== 45
  ) {
    return id;
  }
  let out = '\x01';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = id.charCodeAt(i);
    const v = c < 128 ? (HEX[c] as number) : -1;
    if (v < 0) return id;
    acc = (acc << 4) | v;
    bits += 4;
    if (bits >= 7) {
      bits -= 7;
      out += String.fromCharCode(acc >> bits);
      acc &= (1 << bits) - 1;
    }
  }
  return out + String.fromCharCode(acc << (7 - bits)); // the last 2 bits, left-aligned
}

/** The inverse of {@link encodeUserId}. */
export function decodeUserId(stored: string): string {
  if (stored.length !== 20 || stored.charCodeAt(0) !== 1) return stored;
  let hex = '';
  let acc = 0;
  let bits = 0;
  for (let i = 1; i < 20 && hex.length < 32; i++) {
    acc = acc * 128 + stored.charCodeAt(i);
    bits += 7;
    while (bits >= 4 && hex.length < 32) {
      const scale = 2 ** (bits - 4);
      const nibble = Math.floor(acc / scale);
      hex += nibble.toString(16);
      acc -= nibble * scale;
      bits -= 4;
    }
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Validate a user id: 1–256 printable characters. */
export function userIdOf(value: unknown): string {
  const id = check.text('userId', value, { maxBytes: 1024, printable: true });
  // UTF-16 length ≥ code points, so only long strings need counting.
  if (id.length > 256 && [...id].length > 256) {
    throw new RangeError('userId must be at most 256 characters');
  }
  return id;
}
