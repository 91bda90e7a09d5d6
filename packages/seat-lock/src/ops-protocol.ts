import {
  type CallGuard,
  isCluster,
  luaScript,
  type RedisClient,
  TickScript,
} from '@boxoffice/internal';
import type { SeatLockRedisError } from './errors.js';
import extendLua from './lua/extend.lua';
import fenceLua from './lua/include/fence.lua';
import handoffLua from './lua/include/handoff.lua';
import leaveLua from './lua/leave.lua';
import opsLua from './lua/ops.lua';
import { OneSeatLine } from './one-seat-line.js';
import { type ResourceKeys, slotGroups } from './resources.js';
import type { Waker } from './waker.js';

// Acquire and release, batched per tick (see TickScript).
const includes = [fenceLua, handoffLua];
const opsScript = luaScript('seatlock', 'ops', opsLua, __PACKAGE_VERSION__, { includes });
const leaveScript = luaScript('seatlock', 'leave', leaveLua, __PACKAGE_VERSION__, { includes });
const extendScript = luaScript('seatlock', 'extend', extendLua, __PACKAGE_VERSION__);

/**
 * Operations per ops.lua call at most: a full call leaves at once, so Redis runs it while the client
 * is still answering the previous replies and queueing the next operations (client and server work
 * overlap, as with many separate commands); one call for a whole tick would make them alternate.
 */
const MAX_OPS = 16;

/**
 * A waiter-list entry (see lua/include/handoff.lua): `token/ttlMs` for a one-seat waiter, which a
 * release hands the lock to directly (with that TTL), or `token` alone for a waiter only to wake.
 */
export function waiterEntry(token: string, ttlMs?: number): string {
  return ttlMs === undefined ? token : `${token}/${ttlMs}`;
}

/** True when `entry` is a waiter-list entry of `token`. */
function isEntryOf(entry: string, token: string): boolean {
  return entry === token || entry.startsWith(`${token}/`);
}

/**
 * A wake-up, as ops.lua and leave.lua publish it (`token fence-or-dash lockKey`) or list it in a
 * release's reply: `fence` is the handed-over fence, or null when the waiter is only woken.
 */
export interface WakeUp {
  readonly token: string;
  readonly fence: bigint | null;
  readonly lockKey: string;
}

/** The wake-up of one reply triple (token, fence or '-', lock key). */
function wakeUp(token: string, fence: string, lockKey: string): WakeUp {
  return { token, fence: fence === '-' ? null : BigInt(fence), lockKey };
}

/** Decode a published wake-up message; undefined when it is not one. */
export function parseWakeUp(message: string): WakeUp | undefined {
  const a = message.indexOf(' ');
  const b = a < 0 ? -1 : message.indexOf(' ', a + 1);
  if (b < 0) return undefined;
  return wakeUp(message.slice(0, a), message.slice(a + 1, b), message.slice(b + 1));
}

/** One attempt on one master: every fence, or the resource that blocked it. */
export type Attempt =
  | { ok: true; fences: Map<string, bigint> }
  | { ok: false; resource: string; holder: string | null; pttl: number };

/**
 * The lock operations of a SeatLock on one master, in the protocol of ops.lua (specs and replies,
 * see its header) plus extend.lua and leave.lua: a multi-seat call runs per Cluster slot group,
 * and groups already locked are rolled back when a later one fails. `line` is the single-Redis
 * fast path, present when the SeatLock wakes its waiters.
 */
export class LockOps {
  /** The single-Redis fast path (wake-up mode only). */
  readonly line: OneSeatLine | undefined;
  readonly #client: RedisClient;
  readonly #batcher: TickScript<SeatLockRedisError>;
  readonly #guard: CallGuard<SeatLockRedisError>;
  readonly #channel: string;
  readonly #waker: Waker | undefined;
  readonly #cluster: boolean;

  /** `tokenBase`: the token prefix of the SeatLock's own waiters (woken in the reply, not by PUBLISH). */
  constructor(
    client: RedisClient,
    guard: CallGuard<SeatLockRedisError>,
    channel: string,
    waker: Waker | undefined,
    tokenBase: string,
  ) {
    this.#client = client;
    this.#guard = guard;
    this.#channel = channel;
    this.#waker = waker;
    this.#cluster = isCluster(client);
    const head = [channel, waker ? tokenBase : ''];
    this.#batcher = new TickScript(client, opsScript, head, guard, { max: MAX_OPS });
    this.line = waker ? new OneSeatLine(client, this.#batcher, guard) : undefined;
  }

  /** A plain command, bounded and sent in order with this tick's operations. */
  send<T>(operation: string, call: (client: RedisClient) => Promise<T>): Promise<T> {
    const client = this.#client;
    return this.#guard.run(client, operation, () => this.#batcher.send(() => call(client)));
  }

  /**
   * Acquire every resource, all or nothing. `queueTtl` > 0: join the waiter lists when blocked
   * (`queued` tracks the lists we are in); `direct`: one seat, a release may hand it to us.
   */
  async attempt(
    keys: ResourceKeys[],
    token: string,
    ttlMs: number,
    queueTtl: number,
    queued: Set<string>,
    direct = false,
  ): Promise<Attempt> {
    const groups = slotGroups(keys, this.#cluster);
    const fences = new Map<string, bigint>();
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as ResourceKeys[];
      let mode = '0';
      if (direct && this.line) {
        const joined = await this.line.join(
          group[0] as ResourceKeys,
          token,
          waiterEntry(token, ttlMs),
          queueTtl,
          queued,
        );
        if (joined === true) mode = '3';
        else if (joined !== false) return joined;
      }
      const args: string[] = [];
      let flags = '';
      for (const k of group) {
        args.push(k.lock, k.fence, k.wait);
        flags += mode === '3' ? mode : queued.has(k.lock) ? '1' : '0';
      }
      const spec = `A:${group.length}:${ttlMs}:${queueTtl}:${direct ? '1' : '0'}:${flags}`;
      let reply: unknown[];
      try {
        reply = (await this.#batcher.op(
          args,
          [spec, token],
          'acquire',
          // The script may still run after we gave up on it: undo it then.
          () => void this.#releaseGroups([group], token).catch(() => {}),
        )) as unknown[];
      } catch (error) {
        if (g > 0) await this.#releaseGroups(groups.slice(0, g), token).catch(() => {});
        throw error;
      }
      if (reply[0] === 1) {
        for (let i = 0; i < group.length; i++) {
          const k = group[i] as ResourceKeys;
          fences.set(k.resource, BigInt(reply[i + 1] as string));
          queued.delete(k.lock);
          if (direct) this.line?.won(k.lock);
        }
        continue;
      }
      const blocked = group[(reply[1] as number) - 1] as ResourceKeys;
      if (direct && queueTtl > 0) this.line?.taken(blocked.lock);
      if (reply[3] === 1) queued.add(blocked.lock);
      else queued.delete(blocked.lock);
      // Roll back the groups already locked, so no partial hold is left behind.
      if (g > 0) await this.#releaseGroups(groups.slice(0, g), token);
      return {
        ok: false,
        resource: blocked.resource,
        holder: (reply[2] as string) ?? null,
        pttl: Number(reply[4] ?? -1),
      };
    }
    return { ok: true, fences };
  }

  /**
   * Release what `token` still owns; returns how many locks were released. `fences`: the fences
   * the SeatLock handed out for the lease (lets a handoff skip a counter bump); `offer`: a freed
   * seat may go to our own first waiter not yet in the Redis line.
   */
  release(
    keys: ResourceKeys[],
    token: string,
    fences?: ReadonlyMap<string, bigint>,
    offer = false,
  ): Promise<number> {
    return this.#releaseGroups(slotGroups(keys, this.#cluster), token, fences, offer);
  }

  /** Extend every lock still owned by `token` to `ttlMs`; false when one is not ours any more. */
  async extend(keys: ResourceKeys[], token: string, ttlMs: number): Promise<boolean> {
    const client = this.#client;
    for (const group of slotGroups(keys, this.#cluster)) {
      const ok = await this.#guard.run(client, 'extend', () =>
        this.#batcher.send(() =>
          extendScript.run(
            client,
            group.map((k) => k.lock),
            [token, ttlMs],
          ),
        ),
      );
      if (ok !== 1) return false;
    }
    return true;
  }

  /** Leave the waiter lists (a lock handed to us meanwhile is passed on). */
  async leave(keys: ResourceKeys[], token: string, direct: boolean, ttlMs: number): Promise<void> {
    const client = this.#client;
    const entry = waiterEntry(token, direct ? ttlMs : undefined);
    if (direct) this.line?.take((keys[0] as ResourceKeys).lock, token);
    for (const group of slotGroups(keys, this.#cluster)) {
      await this.#guard.run(client, 'leave', () =>
        this.#batcher.send(() =>
          leaveScript.run(
            client,
            group.flatMap((k) => [k.lock, k.fence, k.wait]),
            [token, this.#channel, entry],
          ),
        ),
      );
    }
  }

  async #releaseGroups(
    groups: ResourceKeys[][],
    token: string,
    fences?: ReadonlyMap<string, bigint>,
    offer = false,
  ): Promise<number> {
    let released = 0;
    for (const group of groups) {
      const keys: string[] = [];
      // One seat: our first waiter not yet in the Redis line gets it if the line is empty.
      const lock = (group[0] as ResourceKeys).lock;
      const line = offer && group.length === 1 ? this.line : undefined;
      const offered = line?.offer(lock);
      let spec = `R:${group.length}:${offered === undefined ? '0' : '1'}`;
      for (const k of group) {
        keys.push(k.lock, k.fence, k.wait);
        const f = fences?.get(k.resource);
        spec += f === undefined ? ':0' : `:${f}`;
      }
      const args = offered === undefined ? [spec, token] : [spec, token, offered];
      let reply: unknown[];
      try {
        reply = (await this.#batcher.op(keys, args, 'release')) as unknown[];
      } catch (error) {
        if (offered !== undefined) line?.settle(lock, offered, undefined);
        throw error;
      }
      released += reply[0] as number;
      let consumed = false;
      for (let i = 1; i + 2 < reply.length; i += 3) {
        const woken = wakeUp(reply[i] as string, reply[i + 1] as string, reply[i + 2] as string);
        if (offered !== undefined && isEntryOf(offered, woken.token)) consumed = true;
        this.#waker?.deliver(woken);
      }
      if (offered !== undefined) line?.settle(lock, offered, consumed);
    }
    return released;
  }
}
