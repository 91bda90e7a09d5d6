// Reads a Trending bucket's stored counters (layout trend3, see src/lua/include/trend-counters.lua) straight
// from Redis, for tests that check the stored form itself.
import type { RedisClient } from '@boxoffice/local-redis/testing';

/** One bucket as stored: header fields, counter width, and every counter's value (overflow applied). */
export interface StoredBucket {
  total: number;
  threshold: number;
  /** Bits per counter in the string: 8, 16 or 32. */
  width: number;
  /** Length of the counters string in bytes. */
  bytes: number;
  /** Overflow hash fields (counter index → value). */
  overflow: Map<number, number>;
  /** Value of every counter: the array's, or the overflow hash's for a counter at 2^width − 1. */
  values: number[];
}

/** The bucket `bucket` of the Trending named `name` (prefix `prefix`), or null if it does not exist. */
export async function readBucket(
  client: RedisClient,
  prefix: string,
  name: string,
  bucket: number,
): Promise<StoredBucket | null> {
  const base = `${prefix}:trend:{${name}}`;
  const raw = await client.getBuffer(`${base}:c:${bucket}`);
  if (raw === null) return null;
  const flat = (await client.hgetall(`${base}:o:${bucket}`)) as Record<string, string>;
  const overflow = new Map(Object.entries(flat).map(([k, v]) => [Number(k), Number(v)]));
  const width = raw.readUInt8(12);
  const bytes = width / 8;
  const max = width === 32 ? 2 ** 32 - 1 : 2 ** width - 1;
  const values: number[] = [];
  for (let at = 16; at < raw.length; at += bytes) {
    const v = raw.readUIntBE(at, bytes);
    const i = (at - 16) / bytes;
    values.push(v === max && width < 32 ? (overflow.get(i) ?? v) : v);
  }
  return {
    total: Number(raw.readBigInt64BE(0)),
    threshold: raw.readUInt32BE(8),
    width,
    bytes: raw.length,
    overflow,
    values,
  };
}
