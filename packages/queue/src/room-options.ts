import {
  check,
  DEFAULT_COMMAND_TIMEOUT_MS,
  keyPrefix,
  MAX_COMMAND_TIMEOUT_MS,
} from '@boxoffice/internal';
import type { AccessTokens } from './access-tokens.js';
import {
  type AdmissionOrder,
  checkAdmitPerTick,
  checkMaxActive,
  checkOrder,
  type RoomSettings,
} from './room-settings.js';
import type { TickResult } from './room-status.js';

/** Arrivals between `opensAt` and `startsAt` are shuffled fairly at `startsAt`, then served FIFO. */
export interface PreQueueOptions {
  /** Joins before this are refused with `QueueClosedError` (reason `'not-open'`). */
  opensAt: Date;
  /** When the shuffled pre-queue moves into the line, ahead of everyone who arrives later. */
  startsAt: Date;
}

/** Options of {@link WaitingRoom}. */
export interface WaitingRoomOptions {
  /** The room (e.g. the concert id): 1–128 printable characters, no braces. */
  roomId: string;
  /**
   * Key prefix; keys are `<prefix>:q:{<roomId>}:<name>`.
   * @defaultValue `'bo'`
   */
  prefix?: string;
  /** Signs the `queue_entry` tokens of admitted users. */
  tokens: AccessTokens;
  /**
   * Capacity: users allowed in the booking area at once (≥ 1). Live: `configure({ maxActive })`
   * overrides it for every instance.
   */
  maxActive: number;
  /**
   * Most users admitted by one tick. Live: `configure({ admitPerTick })` overrides it.
   * @defaultValue 100
   */
  admitPerTick?: number;
  /**
   * Who a tick admits: the head of the line (`'fifo'`) or random waiters (`'random'`). Live:
   * `configure({ order })` overrides it.
   * @defaultValue `'fifo'`
   */
  order?: AdmissionOrder;
  /**
   * Interval of the ticker started by `start()` (≥ 10).
   * @defaultValue 1000
   */
  tickMs?: number;
  /**
   * Interval of the ticker while the room is idle: after a round that found nobody waiting and
   * nobody active, the next runs this much later instead of `tickMs` (never after a pre-queue's
   * `startsAt`). A join on this instance wakes the ticker at once; with several instances, a join
   * on one that does not hold the tick lease waits for the holder's next round, up to this long.
   * An idle room's rounds cost Redis work all the same (up to ~16 commands each in `bench:endpoints`), so many idle
   * rooms at a short `tickMs` add up. Instances that do not hold the lease still try it every
   * `tickMs` (two reads in the tick script). At least `tickMs`.
   * @defaultValue `tickMs` (no slower pace when idle)
   */
  idleTickMs?: number;
  /**
   * A waiter silent for this long beyond the `pollAfterMs` it was last told is evicted (by the first
   * tick after that deadline). The margin a client across a network needs after the interval it
   * was given.
   * @defaultValue 30000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Longest `pollAfterMs` a waiter is told (it gets a quarter of its ETA, at least `tickMs`): waiters
   * far back come back this rarely, so a long line costs Redis and the app O(waiters / this) per
   * second instead of O(waiters / tickMs). A waiter admitted sooner than expected (the pace rose by
   * more than 4×) learns it at its next poll, or at once from `events()`. At least 50.
   * @defaultValue 60000
   */
  maxPollAfterMs?: number;
  /**
   * Time an admitted user may stay in the booking area (the UI timer).
   * @defaultValue 300000
   */
  activeTtlMs?: number;
  /**
   * Extra time after `activeTtlMs` before the slot is freed and the token stops verifying.
   * @defaultValue 10000
   */
  graceMs?: number;
  /**
   * Fair pre-queue before the sale starts.
   * @defaultValue undefined (no pre-queue: FIFO from the first join)
   */
  preQueue?: PreQueueOptions;
  /**
   * Most evictions (silent waiters + expired active users) per tick; keeps a tick bounded.
   * @defaultValue 1000
   */
  evictPerTick?: number;
  /**
   * `scope` of the tokens this room issues.
   * @defaultValue `'queue_entry'`
   */
  scope?: string;
  /**
   * How long a closed room keeps refusing joins (its only remaining key expires then).
   * @defaultValue 86400000 (24 h)
   */
  closedTtlMs?: number;
  /**
   * Longest wait for one Redis call of the room (the same option in every boxoffice package): past
   * it the call fails with `QueueRedisError` of kind `timeout`, and at once with kind `unavailable`
   * while the client is reconnecting or closed. Also bounds each step of `stop()` and `close()`,
   * and is the default of `events()`' own.
   * @defaultValue 2000
   */
  commandTimeoutMs?: number;
  /**
   * Called after each tick this instance's ticker ran (not on rounds where another instance holds
   * the lease).
   * @defaultValue undefined
   */
  onTick?: (result: TickResult) => void;
  /**
   * Called when a ticker round fails (e.g. Redis restarting); the ticker keeps going.
   * @defaultValue undefined (errors are dropped)
   */
  onError?: (error: unknown) => void;
}

/** {@link WaitingRoomOptions} merged with the defaults and validated (`WaitingRoom.options`). */
export type ResolvedRoomOptions = Readonly<
  Required<Omit<WaitingRoomOptions, 'preQueue' | 'onTick' | 'onError'>>
> & {
  preQueue: PreQueueOptions | undefined;
};

const DEFAULTS: Readonly<Omit<WaitingRoomOptions, 'roomId' | 'tokens' | 'maxActive'>> =
  Object.freeze({
    prefix: 'bo',
    admitPerTick: 100,
    order: 'fifo',
    tickMs: 1000,
    idleTickMs: undefined,
    heartbeatTimeoutMs: 30_000,
    maxPollAfterMs: 60_000,
    activeTtlMs: 300_000,
    graceMs: 10_000,
    preQueue: undefined,
    evictPerTick: 1000,
    scope: 'queue_entry',
    closedTtlMs: 86_400_000,
    commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
    onTick: undefined,
    onError: undefined,
  });

/**
 * Merge `options` with the defaults and validate every field, as the constructor of
 * {@link WaitingRoom} does: `TypeError`/`RangeError` naming the option, nothing created.
 */
export function resolveRoomOptions(options: WaitingRoomOptions): {
  options: ResolvedRoomOptions;
  onTick: ((result: TickResult) => void) | undefined;
  onError: ((error: unknown) => void) | undefined;
} {
  const o = check.mergeOptions('WaitingRoom options', DEFAULTS as WaitingRoomOptions, options, [
    'roomId',
    'tokens',
    'maxActive',
  ]);
  const roomId = check.text('roomId', o.roomId, { maxBytes: 512, printable: true });
  if ([...roomId].length > 128) throw new RangeError('roomId must be at most 128 characters');
  if (/[{}]/.test(roomId))
    throw new TypeError(`roomId must not contain braces, got ${JSON.stringify(roomId)}`);
  const tokens = o.tokens as AccessTokens;
  if (typeof tokens?.issue !== 'function' || typeof tokens.verify !== 'function') {
    throw new TypeError('tokens must be an AccessTokens');
  }
  const prefix = keyPrefix('prefix', o.prefix);
  const maxActive = checkMaxActive(o.maxActive);
  const admitPerTick = checkAdmitPerTick(o.admitPerTick);
  const order = checkOrder(o.order);
  const tickMs = check.integer('tickMs', o.tickMs, { min: 10, max: 3_600_000 });
  const idleTickMs = check.integer('idleTickMs', o.idleTickMs ?? tickMs, {
    min: tickMs,
    max: 3_600_000,
  });
  const heartbeatTimeoutMs = check.integer('heartbeatTimeoutMs', o.heartbeatTimeoutMs, {
    min: 100,
    max: 86_400_000,
  });
  const maxPollAfterMs = check.integer('maxPollAfterMs', o.maxPollAfterMs, {
    min: 50,
    max: 3_600_000,
  });
  const activeTtlMs = check.integer('activeTtlMs', o.activeTtlMs, { min: 100, max: 86_400_000 });
  const graceMs = check.integer('graceMs', o.graceMs, { max: 3_600_000 });
  const evictPerTick = check.integer('evictPerTick', o.evictPerTick, { min: 1, max: 100_000 });
  const scope = check.text('scope', o.scope, { maxBytes: 256, printable: true });
  const closedTtlMs = check.integer('closedTtlMs', o.closedTtlMs, { min: 1000 });
  const commandTimeoutMs = check.integer('commandTimeoutMs', o.commandTimeoutMs, {
    min: 1,
    max: MAX_COMMAND_TIMEOUT_MS,
  });
  let preQueue: PreQueueOptions | undefined;
  if (o.preQueue !== undefined) {
    const p = check.plainObject('preQueue', o.preQueue);
    for (const key of Object.keys(p)) {
      if (key !== 'opensAt' && key !== 'startsAt')
        throw new TypeError(`preQueue: unknown option '${key}'`);
    }
    const opensAt = check.date('preQueue.opensAt', p.opensAt);
    const startsAt = check.date('preQueue.startsAt', p.startsAt);
    if (startsAt.getTime() < opensAt.getTime()) {
      throw new RangeError('preQueue.startsAt must not be before preQueue.opensAt');
    }
    preQueue = Object.freeze({ opensAt, startsAt });
  }
  return {
    options: Object.freeze({
      roomId,
      prefix,
      tokens,
      maxActive,
      admitPerTick,
      order,
      tickMs,
      idleTickMs,
      heartbeatTimeoutMs,
      maxPollAfterMs,
      activeTtlMs,
      graceMs,
      evictPerTick,
      scope,
      closedTtlMs,
      commandTimeoutMs,
      preQueue,
    }),
    onTick:
      o.onTick === undefined
        ? undefined
        : check.func<(result: TickResult) => void>('onTick', o.onTick),
    onError:
      o.onError === undefined
        ? undefined
        : check.func<(error: unknown) => void>('onError', o.onError),
  };
}

/** The constructor's live settings: what a room uses while no override is stored. */
export function defaultSettings(o: ResolvedRoomOptions): RoomSettings {
  return Object.freeze({ maxActive: o.maxActive, admitPerTick: o.admitPerTick, order: o.order });
}
