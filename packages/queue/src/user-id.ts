const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How a user id is stored in Redis. A canonical lowercase UUID (the common case) becomes 20 bytes,
 * `\x01` + its 128 bits in nineteen 7-bit characters, instead of 36: a smaller allocation for every
 * ZSET member, which is most of the memory a waiting user costs. 7-bit characters keep it a plain
 * (ASCII) string for the client, since Buffer arguments cost more to send. Any other id is stored as
 * is; validated ids are printable, so they never start with `\x01` and the two forms cannot collide.
 * Stored ids that scripts return are decoded with {@link decodeUserId}.
 */
export function encodeUserId(id: string): string {
  if (id.length !== 36 || !UUID.test(id)) return id;
  const codes = [1];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    acc = acc * 16 + Number.parseInt(id[i] as string, 16);
    bits += 4;
    if (bits >= 7) {
      const scale = 2 ** (bits - 7);
      const code = Math.floor(acc / scale);
      codes.push(code);
      acc -= code * scale;
      bits -= 7;
    }
  }
  codes.push(acc * 2 ** (7 - bits)); // the last 2 bits, left-aligned
  return String.fromCharCode(...codes);
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
