import { check, luaScript, type RedisClient } from '@boxoffice/internal';
import { failedCall, QueueClosedError } from './errors.js';
import configureLua from './lua/configure.lua';
import statsLua from './lua/stats.lua';
import type { RoomStats } from './room-status.js';

const configureScript = luaScript('queue', 'configure', configureLua, __PACKAGE_VERSION__);
const statsScript = luaScript('queue', 'stats', statsLua, __PACKAGE_VERSION__);

/**
 * Who a tick admits: `'fifo'` the head of the line (by ticket), `'random'` waiters picked at random
 * from the whole line (Cloudflare's "random" queueing method; the pre-queue shuffle is unchanged).
 */
export type AdmissionOrder = 'fifo' | 'random';

/** The admission orders {@link AdmissionOrder} allows. */
export const ADMISSION_ORDERS: readonly AdmissionOrder[] = Object.freeze(['fifo', 'random']);

/**
 * The settings an operator can change while the room runs ({@link WaitingRoom.configure}): stored
 * in Redis and used by the next tick of whichever instance ticks, without a restart.
 */
export interface RoomSettings {
  /** Capacity of the booking area. Lowering it below the active count admits nobody until they drain. */
  readonly maxActive: number;
  /** Most users admitted by one tick. */
  readonly admitPerTick: number;
  /** Who is admitted: the head of the line or random waiters. */
  readonly order: AdmissionOrder;
}

/** Some of the {@link RoomSettings}: the fields given are stored, the others keep their value. */
export type RoomSettingsUpdate = { -readonly [K in keyof RoomSettings]?: RoomSettings[K] };

/** Validate `maxActive` (an integer in [1, 10,000,000]), for the constructor and `configure`. */
export function checkMaxActive(value: unknown): number {
  return check.integer('maxActive', value, { min: 1, max: 10_000_000 });
}

/** Validate `admitPerTick` (an integer in [1, 100,000]), for the constructor and `configure`. */
export function checkAdmitPerTick(value: unknown): number {
  return check.integer('admitPerTick', value, { min: 1, max: 100_000 });
}

/** Validate `order` (`'fifo'` or `'random'`), for the constructor and `configure`. */
export function checkOrder(value: unknown): AdmissionOrder {
  return check.oneOf('order', value, ADMISSION_ORDERS);
}

/**
 * Validate an update for `configure`: a plain object of known fields, each valid
 * (`TypeError`/`RangeError` naming the field otherwise); `undefined` fields are left out.
 * Returns the meta hash field/value pairs to store.
 */
export function settingsUpdateFields(update: unknown): string[] {
  const given = check.plainObject('settings', update);
  const fields: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (key === 'maxActive') fields.push(key, String(checkMaxActive(value)));
    else if (key === 'admitPerTick') fields.push(key, String(checkAdmitPerTick(value)));
    else if (key === 'order') fields.push(key, checkOrder(value));
    else
      throw new TypeError(
        `settings: unknown option '${key}' (known: maxActive, admitPerTick, order)`,
      );
  }
  return fields;
}

/** The effective settings: the stored overrides (validated when stored) over the defaults. */
function effective(
  defaults: RoomSettings,
  maxActive: unknown,
  admitPerTick: unknown,
  order: unknown,
): RoomSettings {
  return Object.freeze({
    maxActive: maxActive == null ? defaults.maxActive : Number(maxActive),
    admitPerTick: admitPerTick == null ? defaults.admitPerTick : Number(admitPerTick),
    order: order === 'random' || order === 'fifo' ? order : defaults.order,
  });
}

/**
 * Store `fields` (from {@link settingsUpdateFields}; none = read only) in the room's meta hash and
 * return the effective settings, in one Lua call.
 * @throws {QueueClosedError} the room is closed
 */
export async function configureRoom(
  client: RedisClient,
  meta: string,
  roomId: string,
  fields: string[],
  defaults: RoomSettings,
): Promise<RoomSettings> {
  const r = (await configureScript.run(client, [meta], fields).catch(failedCall('configure'))) as [
    number,
    ...unknown[],
  ];
  if (r[0] === -1) throw new QueueClosedError(roomId, 'closed');
  return effective(defaults, r[1], r[2], r[3]);
}

/** Bins of tick.lua's wait histogram: bin 0 is under 1 ms, bin k is [2^((k-1)/4), 2^(k/4)) ms. */
function binValue(bin: number): number {
  return bin === 0 ? 0 : Math.round(2 ** ((bin - 0.5) / 4));
}

/** p-quantile (nearest rank) of a histogram `bin -> count`, as its bin's geometric middle. */
function quantile(bins: [number, number][], total: number, p: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(p * total);
  let seen = 0;
  for (const [bin, count] of bins) {
    seen += count;
    if (seen >= rank) return binValue(bin);
  }
  return null;
}

/**
 * Read the room's counters, effective settings and the last minute's waits (stats.lua).
 * `keys`: the waiting, pre-queue, active, meta and wait-histogram keys.
 */
export async function readRoomStats(
  client: RedisClient,
  keys: string[],
  defaults: RoomSettings,
): Promise<RoomStats> {
  const r = (await statsScript.run(client, keys, []).catch(failedCall('stats'))) as unknown[];
  const num = (i: number) => (r[i] as number | undefined) ?? 0;
  const merged = new Map<number, number>();
  const flat = (r[11] ?? []) as string[];
  let admitted = 0;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const bin = Number((flat[i] as string).slice((flat[i] as string).indexOf(':') + 1));
    const count = Number(flat[i + 1]);
    merged.set(bin, (merged.get(bin) ?? 0) + count);
    admitted += count;
  }
  const bins = [...merged].sort((a, b) => a[0] - b[0]);
  return {
    waiting: num(0),
    active: num(1),
    admittedPerMin: num(2),
    evictedTotal: num(3),
    admittedTotal: num(4),
    ticks: num(5),
    paused: r[6] === 1,
    abandonedPerMin: num(7),
    settings: effective(defaults, r[8], r[9], r[10]),
    waitMs: { p50: quantile(bins, admitted, 0.5), p90: quantile(bins, admitted, 0.9), admitted },
  };
}
