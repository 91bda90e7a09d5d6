import { luaScript } from '@boxoffice/internal';
import { type Bounded, type Call, CHUNK, payload, runSettled } from './batch.js';
import { packCounterIndexes, pushBitPositions, pushCounterIndexes } from './hash.js';
import bitfieldLua from './lua/include/bitfield.lua';
import countersLua from './lua/include/trend-counters.lua';
import addLua from './lua/trend-add.lua';
import bulkLua from './lua/trend-bulk.lua';

const addScript = luaScript('sketch', 'trend_add', addLua, __PACKAGE_VERSION__, {
  includes: [bitfieldLua, countersLua],
});
const bulkScript = luaScript('sketch', 'trend_bulk', bulkLua, __PACKAGE_VERSION__, {
  includes: [countersLua],
});

/**
 * Distinct items per bulk script call (see trend-bulk.lua): about 5 ms of Redis time on a quiet
 * server; a whole default buffer flush (10,000 entries) is one call, so the counter array is decoded
 * and encoded once per flush.
 */
const BULK_CHUNK = 10_000;

/** @internal An event validated and placed in its bucket. */
export interface PendingEvent {
  bucket: number;
  item: string;
  n: number;
  dedupeBy: string | undefined;
}

/** @internal What a write did: a "counted" flag per event, the events of failed calls, the first error. */
export interface WriteOutcome {
  counted: boolean[];
  failed: PendingEvent[];
  error: unknown;
}

/** @internal Where a Trending keeps its data and how it is laid out. */
export interface TrendTarget extends Bounded {
  /** `<prefix>:trend:<name>`: the start of every key. */
  readonly base: string;
  /** The metadata hash (field `layout`). */
  readonly meta: string;
  /** The layout string every script checks against the stored one. */
  readonly layout: string;
  readonly conservative: boolean;
  /** Counters per bucket (width × depth). */
  readonly cells: number;
  readonly width: number;
  readonly depth: number;
  readonly topK: number;
  readonly bucketMs: number;
  readonly windowMs: number;
  readonly bloomBits: number;
  readonly bloomHashes: number;
}

/**
 * One bucket's events: with dedupeBy (indexes, one by one through trend-add.lua) and the others for
 * trend-bulk.lua, an index or a group of indexes of equal items.
 */
interface BucketEvents {
  deduped: number[];
  plain: (number | number[])[];
  same: Map<string, number[]>;
}

/**
 * Write prepared events (in the buckets from `oldest` on; older ones are not counted), reporting the
 * events of failed script calls (to be retried) and the first error instead of rejecting.
 * `unique`: no two events without dedupeBy share (bucket, item).
 */
export async function writeSettled(
  t: TrendTarget,
  events: readonly PendingEvent[],
  oldest: number,
  unique: boolean,
): Promise<WriteOutcome> {
  const calls: Call[] = [];
  const order: number[][] = [];
  const bulk: boolean[] = [];
  for (const [bucket, { deduped, plain }] of byBucket(events, oldest, unique)) {
    const expireAt = (bucket + 1) * t.bucketMs + t.windowMs;
    const keys = [
      t.meta,
      `${t.base}:c:${bucket}`,
      `${t.base}:t:${bucket}`,
      `${t.base}:o:${bucket}`,
      `${t.base}:s:${bucket}`,
    ];
    for (let start = 0; start < plain.length; start += BULK_CHUNK) {
      const groups = plain.slice(start, start + BULK_CHUNK);
      const idx: number[] = [];
      calls.push(bulkCall(t, keys.slice(0, 4), expireAt, events, groups, idx));
      order.push(idx);
      bulk.push(true);
    }
    for (let start = 0; start < deduped.length; start += CHUNK) {
      const chunk = deduped.slice(start, start + CHUNK);
      calls.push(addCall(t, keys, expireAt, events, chunk));
      order.push(chunk);
      bulk.push(false);
    }
  }
  const settled = await runSettled(t, 'record', (c) => (bulk[c] ? bulkScript : addScript), calls);
  const counted: boolean[] = new Array(events.length).fill(false);
  const failed: PendingEvent[] = [];
  let error: unknown;
  settled.forEach((outcome, c) => {
    const idx = order[c] as number[];
    try {
      if (!outcome.ok) throw outcome.error;
      const flags = payload(outcome.value, t.meta, t.layout) as number[];
      idx.forEach((i, j) => {
        counted[i] = bulk[c] === true || flags[j] === 1;
      });
    } catch (e) {
      error ??= e;
      for (const i of idx) failed.push(events[i] as PendingEvent);
    }
  });
  return { counted, failed, error };
}

/**
 * The events per bucket still in the window; equal items without dedupeBy are grouped (summed, the
 * same counters and estimate as applying them in a row) unless the caller says (bucket, item) pairs
 * are unique already (a buffer flush).
 */
function byBucket(
  events: readonly PendingEvent[],
  oldest: number,
  unique: boolean,
): Map<number, BucketEvents> {
  const buckets = new Map<number, BucketEvents>();
  events.forEach((e, i) => {
    if (e.bucket < oldest) return;
    let group = buckets.get(e.bucket);
    if (!group) {
      group = { deduped: [], plain: [], same: new Map() };
      buckets.set(e.bucket, group);
    }
    if (e.dedupeBy !== undefined) {
      group.deduped.push(i);
    } else if (unique) {
      group.plain.push(i);
    } else {
      const same = group.same.get(e.item);
      if (same) {
        same.push(i);
      } else {
        const list = [i];
        group.same.set(e.item, list);
        group.plain.push(list);
      }
    }
  });
  return buckets;
}

/**
 * One trend-bulk.lua call for `groups` (event indexes, or groups of indexes of one item, counted
 * once with their summed n): counter indexes and counts packed in one binary argument, the items
 * concatenated in another. Pushes the event indexes it covers, in order, to `idx`.
 */
function bulkCall(
  t: TrendTarget,
  keys: string[],
  expireAt: number,
  events: readonly PendingEvent[],
  groups: readonly (number | number[])[],
  idx: number[],
): Call {
  const stride = (t.depth + 3) * 4;
  let nameBytes = 0;
  for (const first of groups) {
    nameBytes += (events[typeof first === 'number' ? first : (first[0] as number)] as PendingEvent)
      .item.length;
  }
  const blob = Buffer.allocUnsafe(groups.length * stride);
  // ≤ 3 UTF-8 bytes per UTF-16 unit
  let names = Buffer.allocUnsafe(nameBytes * 3);
  let at = 0;
  let nameAt = 0;
  for (const group of groups) {
    let n: number;
    let value: string;
    if (typeof group === 'number') {
      const e = events[group] as PendingEvent;
      n = e.n;
      value = e.item;
      idx.push(group);
    } else {
      n = 0;
      for (const i of group) {
        n += (events[i] as PendingEvent).n;
        idx.push(i);
      }
      value = (events[group[0] as number] as PendingEvent).item;
    }
    at = packCounterIndexes(blob, at, value, t.width, t.depth);
    const bytes = names.write(value, nameAt);
    nameAt += bytes;
    blob.writeUInt32BE(Math.floor(n / 4294967296), at);
    blob.writeUInt32BE(n % 4294967296, at + 4);
    blob.writeUInt32BE(bytes, at + 8);
    at += 12;
  }
  names = names.subarray(0, nameAt);
  return {
    keys,
    args: [t.layout, t.conservative ? '1' : '0', t.cells, expireAt, t.topK, t.depth, blob, names],
  };
}

/** One trend-add.lua call for the events `chunk` (all with dedupeBy), each with its Bloom bits. */
function addCall(
  t: TrendTarget,
  keys: string[],
  expireAt: number,
  events: readonly PendingEvent[],
  chunk: readonly number[],
): Call {
  const args: (string | number)[] = [
    t.layout,
    t.conservative ? '1' : '0',
    t.cells,
    expireAt,
    t.topK,
    t.depth,
    t.bloomHashes,
    t.bloomBits,
  ];
  for (const i of chunk) {
    const e = events[i] as PendingEvent;
    args.push(e.item, e.n, '1');
    pushCounterIndexes(args, e.item, t.width, t.depth);
    pushBitPositions(args, `${e.item.length}:${e.item}${e.dedupeBy}`, t.bloomBits, t.bloomHashes);
  }
  return { keys, args };
}
