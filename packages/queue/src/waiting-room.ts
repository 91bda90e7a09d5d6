import {
  CallGuard,
  ioredisClient,
  luaScript,
  type RedisClient,
  redisNowMsLua,
  TickBatch,
} from '@boxoffice/internal';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import {
  QueueClosedError,
  type QueueRedisError,
  queueCallErrors,
  TokenRevokedError,
} from './errors.js';
import closeLua from './lua/close.lua';
import completeLua from './lua/complete.lua';
import leaveLua from './lua/leave.lua';
import releaseLua from './lua/release.lua';
import tickLua from './lua/tick.lua';
import visitLua from './lua/visit.lua';
import { openRoomEvents, type RoomEvents, type RoomEventsOptions } from './room-events.js';
import {
  defaultSettings,
  type ResolvedRoomOptions,
  resolveRoomOptions,
  type WaitingRoomOptions,
} from './room-options.js';
import {
  configureRoom,
  type RoomSettings,
  type RoomSettingsUpdate,
  readRoomStats,
  settingsUpdateFields,
} from './room-settings.js';
import {
  type JoinResult,
  type RoomStats,
  type RoomStatus,
  type TickResult,
  waitingStatus,
} from './room-status.js';
import { RoomTicker } from './room-ticker.js';
import { readTickReply } from './tick-reply.js';
import { tracedJoin, tracedTick, tracing } from './tracing.js';
import { encodeUserId, userIdOf } from './user-id.js';

const nowIncludes = { includes: [redisNowMsLua] };
const visitScript = luaScript('queue', 'visit', visitLua, __PACKAGE_VERSION__, nowIncludes);
const tickScript = luaScript('queue', 'tick', tickLua, __PACKAGE_VERSION__, nowIncludes);
const leaveScript = luaScript('queue', 'leave', leaveLua, __PACKAGE_VERSION__);
const completeScript = luaScript('queue', 'complete', completeLua, __PACKAGE_VERSION__);
const closeScript = luaScript('queue', 'close', closeLua, __PACKAGE_VERSION__);
const releaseScript = luaScript('queue', 'release', releaseLua, __PACKAGE_VERSION__);

const TOKEN_CACHE = 10_000;
/** Most visits in one Lua call: bounds the time one script holds Redis (a few µs per visit). */
const MAX_BATCH = 256;

/** A visit.lua reply (see its header) and where one user's six values start in it. */
type BatchReply = { r: (number | string)[]; at: number };
interface PendingVisit {
  user: string;
  mode: 'j' | 'h' | 's';
  resolve: (reply: BatchReply) => void;
  reject: (error: unknown) => void;
}

/**
 * A virtual waiting room in Redis: a FIFO line with heartbeat eviction, capacity-based admission by a
 * ticker that runs once cluster-wide, an optional fair pre-queue, push events and `queue_entry` tokens.
 *
 * join/heartbeat/status/leave/complete are one round trip each, O(log N); join/heartbeat/status
 * calls made in the same event-loop tick share one Lua call (up to 256 per call, applied in call
 * order). `tick()` is one Lua call bounded by `admitPerTick + evictPerTick` (plus the pre-queue move
 * batch), never O(N).
 */
export class WaitingRoom {
  /** The room id. */
  readonly roomId: string;
  /** The merged, validated options. */
  readonly options: ResolvedRoomOptions;
  /** Pub/sub channel of this room's tick messages. */
  readonly channel: string;
  readonly #client: RedisClient;
  readonly #tokens: AccessTokens;
  readonly #keys: string[];
  readonly #defaults: RoomSettings;
  readonly #lease: string;
  readonly #opensAt: number;
  readonly #startsAt: number;
  readonly #tokenCache = new Map<string, string>();
  readonly #guard: CallGuard<QueueRedisError>;
  // Every join/heartbeat/status of one tick, sent as one visit.lua call at process.nextTick (or at
  // once when MAX_BATCH are queued), in call order.
  readonly #visits = new TickBatch<PendingVisit>((batch) => this.#send(batch), { max: MAX_BATCH });
  #closed = false;
  readonly #ticker: RoomTicker;

  constructor(client: RedisClient, options: WaitingRoomOptions) {
    ioredisClient('client', client);
    const resolved = resolveRoomOptions(options);
    const o = resolved.options;
    this.roomId = o.roomId;
    this.#client = client;
    this.#tokens = o.tokens;
    this.options = o;
    this.#guard = new CallGuard(o.commandTimeoutMs, queueCallErrors);
    const { prefix, roomId, preQueue } = o;
    const base = `${prefix}:q:{${roomId}}:`;
    // w p a t m s h j wt, then the lease: the order every script's KEYS header documents.
    this.#keys = ['w', 'p', 'a', 't', 'm', 's', 'h', 'j', 'wt'].map((k) => base + k);
    this.#defaults = defaultSettings(o);
    this.#lease = `${base}l`;
    this.channel = `${base}events`;
    this.#opensAt = preQueue ? preQueue.opensAt.getTime() : -1;
    this.#startsAt = preQueue ? preQueue.startsAt.getTime() : -1;
    this.#ticker = new RoomTicker({
      roomId,
      tickMs: o.tickMs,
      idleTickMs: o.idleTickMs,
      startsAt: this.#startsAt,
      tick: (token) => this.#tick(token),
      release: (token) =>
        this.#call('release', () => releaseScript.run(this.#client, [this.#lease], [token])),
      within: (operation, work) => this.#guard.within(operation, work),
      onTick: resolved.onTick,
      onError: resolved.onError,
    });
  }

  /** Every Redis key this room can create (for inspection; `close()` deletes them). */
  get keys(): readonly string[] {
    return [...this.#keys, this.#lease];
  }

  /**
   * Enter the line (or the pre-queue), or refresh the place already held: idempotent per user, so a
   * reload or a second tab keeps the same place. Counts as a heartbeat.
   * @throws {QueueClosedError} the room is closed, or the pre-queue has not opened yet
   */
  join(userId: string): Promise<JoinResult> {
    if (!tracing.on) return this.#join(userId);
    return tracedJoin(this.roomId, () => this.#join(userId));
  }

  async #join(userId: string): Promise<JoinResult> {
    const user = userIdOf(userId);
    if (this.#closed) throw new QueueClosedError(this.roomId, 'closed');
    const result = await this.#visit(user, 'j');
    if (result.state === 'unknown') throw new Error('unreachable: join returned unknown');
    if (result.state === 'waiting') this.#ticker.wake();
    return result;
  }

  /** Keep a waiting user alive; returns the same as `status()`. Does not join an unknown user. */
  async heartbeat(userId: string): Promise<RoomStatus> {
    const user = userIdOf(userId);
    if (this.#closed) return { state: 'unknown' };
    return this.#visit(user, 'h');
  }

  /** Read-only: where the user stands (`unknown` if evicted, expired, left or never joined). */
  async status(userId: string): Promise<RoomStatus> {
    const user = userIdOf(userId);
    if (this.#closed) return { state: 'unknown' };
    return this.#visit(user, 's');
  }

  /**
   * Queue one visit for the next batch. Every join/heartbeat/status this instance makes in the same
   * tick of the event loop goes to Redis as one Lua call (in call order, atomically), so many
   * concurrent requests cost one round trip and one script run instead of one each.
   */
  #visit(user: string, mode: 'j' | 'h' | 's'): Promise<RoomStatus> {
    return new Promise<BatchReply>((resolve, reject) => {
      this.#visits.add({ user, mode, resolve, reject });
    }).then((reply) => this.#visitResult(user, reply));
  }

  /**
   * Send the pending visits now. Every other command of the room calls this first, so commands reach
   * Redis in call order even when a batched visit and e.g. a `leave()` are made in the same tick.
   */
  #flush(): void {
    this.#visits.flush();
  }

  #send(batch: PendingVisit[]): void {
    let modes = '';
    for (const v of batch) modes += v.mode;
    const o = this.options;
    const args: (string | number)[] = [
      o.heartbeatTimeoutMs,
      this.#opensAt,
      this.#startsAt,
      modes,
      o.tickMs,
      o.maxPollAfterMs,
      o.admitPerTick,
      o.order,
    ];
    for (const v of batch) args.push(encodeUserId(v.user));
    if (this.#startsAt >= 0) for (const _ of batch) args.push(Math.random());
    this.#call('visit', () => visitScript.run(this.#client, this.#keys.slice(0, 7), args)).then(
      (reply) => {
        const r = reply as (number | string)[];
        for (let i = 0; i < batch.length; i++) {
          (batch[i] as PendingVisit).resolve({ r, at: 3 + 6 * i });
        }
      },
      (error: unknown) => {
        for (const v of batch) v.reject(error);
      },
    );
  }

  /** One Redis call bounded by `commandTimeoutMs`; failures are {@link QueueRedisError}s. */
  #call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return this.#guard.run(this.#client, operation, call);
  }

  async #visitResult(user: string, { r, at }: BatchReply): Promise<RoomStatus> {
    const code = r[at];
    if (code === -1) {
      throw new QueueClosedError(this.roomId, 'closed');
    }
    if (code === -2)
      throw new QueueClosedError(this.roomId, 'not-open', this.options.preQueue?.opensAt);
    if (code === 0) return { state: 'unknown' };
    if (code === 2) {
      const expiresAt = r[at + 1] as number;
      const jti = r[at + 2] as string;
      return { state: 'active', token: await this.#token(user, expiresAt, jti), expiresAt, jti };
    }
    return waitingStatus(r, at);
  }

  async #token(user: string, expiresAt: number, jti: string): Promise<string> {
    const cached = this.#tokenCache.get(jti);
    if (cached) return cached;
    const { token } = await this.#tokens.issue({
      sub: user,
      scope: this.options.scope,
      aud: this.roomId,
      expiresAt,
      graceMs: this.options.graceMs,
      jti,
    });
    if (this.#tokenCache.size >= TOKEN_CACHE) {
      const oldest = this.#tokenCache.keys().next().value;
      if (oldest !== undefined) this.#tokenCache.delete(oldest);
    }
    this.#tokenCache.set(jti, token);
    return token;
  }

  /** Leave the line, the pre-queue or the booking area now (e.g. from `navigator.sendBeacon`). */
  async leave(userId: string): Promise<boolean> {
    const user = userIdOf(userId);
    const k = this.#keys;
    this.#flush();
    const n = await this.#call('leave', () =>
      leaveScript.run(this.#client, k.slice(0, 7), [encodeUserId(user)]),
    );
    return n === 1;
  }

  /** The purchase finished: free the user's active slot now (revokes its token in stateful mode). */
  async complete(userId: string): Promise<boolean> {
    const user = userIdOf(userId);
    this.#flush();
    const n = await this.#call('complete', () =>
      completeScript.run(this.#client, [this.#keys[2], this.#keys[3]] as string[], [
        encodeUserId(user),
      ]),
    );
    return n === 1;
  }

  /**
   * One admission round (what the ticker runs): move the pre-queue after `startsAt`, expire active
   * users past `activeTtlMs + graceMs`, evict silent waiters, admit up to
   * `min(admitPerTick, maxActive - active)` from the head, then publish one message on `channel`.
   * Atomic in Redis, so concurrent calls from many instances never over-admit.
   * Tokens are signed lazily when the admitted user next calls `status`/`heartbeat`/`join`.
   */
  async tick(): Promise<TickResult> {
    if (this.#closed) throw new QueueClosedError(this.roomId, 'closed');
    const run = () => this.#tick('');
    const result = await (tracing.on ? tracedTick(this.roomId, false, run) : run());
    if (!result) throw new QueueClosedError(this.roomId, 'closed');
    return result;
  }

  async #tick(leaseToken: string): Promise<TickResult | null | undefined> {
    const o = this.options;
    this.#flush();
    const r = await this.#call('tick', () =>
      tickScript.run(
        this.#client,
        [...this.#keys, this.#lease],
        [
          leaseToken,
          this.#leaseTtl(),
          o.maxPollAfterMs,
          o.heartbeatTimeoutMs,
          o.evictPerTick,
          o.admitPerTick,
          o.maxActive,
          o.activeTtlMs,
          o.graceMs,
          this.#startsAt,
          Math.max(1000, o.admitPerTick),
          o.order,
        ],
      ),
    );
    const read = readTickReply(r);
    if (read === 'lease') return undefined;
    if (read === 'closed') return null;
    const { result, message } = read;
    await this.#call('publish', () => this.#client.publish(this.channel, JSON.stringify(message)));
    return result;
  }

  #leaseTtl(): number {
    return Math.max(3 * this.options.tickMs, 2 * this.options.idleTickMs, 2000);
  }

  /**
   * Run `tick()` every `tickMs` (every `idleTickMs` while nobody waits or is active) until `stop()`.
   * Safe with any number of app instances: a fenced Redis lease (checked inside the tick script
   * itself) lets exactly one of them tick; if it dies, another takes over after
   * `max(3 × tickMs, 2 × idleTickMs, 2 s)`. Errors go to `onError`; the ticker keeps trying.
   */
  start(): void {
    if (this.#closed) throw new QueueClosedError(this.roomId, 'closed');
    this.#ticker.start();
  }

  /**
   * Stop this instance's ticker and give up the lease if it holds it. Finishes in bounded time
   * whatever Redis does: waits for a running round and then for the release at most
   * `commandTimeoutMs` each (a lease not released expires by itself).
   */
  stop(): Promise<void> {
    return this.#ticker.stop();
  }

  /** True while this instance's ticker loop runs (leading or standing by). */
  get running(): boolean {
    return this.#ticker.running;
  }

  /**
   * Subscribe to the room's events (a new connection, `client.duplicate()` that connects at once and
   * queues the SUBSCRIBE, even if the room's client is lazy or has no offline queue; closed when
   * iteration ends). For SSE/WebSocket gateways: `admitted`/`evicted` name a user, `position` is one broadcast
   * per tick.
   */
  events(options: RoomEventsOptions = {}): RoomEvents {
    return openRoomEvents(this.#client, this.channel, options, this.options.commandTimeoutMs);
  }

  /**
   * Counters of the room, whether it is paused, its effective settings, and the last minute's
   * admissions, abandons and waits (the per-minute figures as of the last tick).
   */
  async stats(): Promise<RoomStats> {
    const k = this.#keys;
    this.#flush();
    return this.#call('stats', () =>
      readRoomStats(this.#client, [k[0], k[1], k[2], k[4], k[8]] as string[], this.#defaults),
    );
  }

  /**
   * Change live settings for every instance: the given fields are stored in Redis (only those, so
   * concurrent calls never lose each other's fields) and the next tick, whichever instance runs it,
   * uses them; the constructor's values are the defaults while nothing is stored. Validated like the
   * constructor's options (`TypeError`/`RangeError`, nothing stored on a bad value). A `maxActive`
   * below the active count admits nobody until they drain; nobody active is evicted for it.
   * @returns the effective settings after the change
   * @throws {QueueClosedError} after `close()`
   */
  async configure(update: RoomSettingsUpdate): Promise<RoomSettings> {
    const fields = settingsUpdateFields(update);
    if (this.#closed) throw new QueueClosedError(this.roomId, 'closed');
    this.#flush();
    const meta = this.#keys[4] as string;
    return this.#call('configure', () =>
      configureRoom(this.#client, meta, this.roomId, fields, this.#defaults),
    );
  }

  /**
   * The effective settings: the overrides `configure()` stored, over the constructor's options.
   * @throws {QueueClosedError} after `close()`
   */
  async settings(): Promise<RoomSettings> {
    return this.configure({});
  }

  /**
   * Stop admitting, for every instance, until {@link WaitingRoom.resume}: ticks still run (silent
   * waiters are evicted, expired actives leave), joins, heartbeats and leaving work as before, and
   * each tick's message says `paused`. Nobody already active is affected. Idempotent.
   * @throws {QueueClosedError} after `close()`
   */
  async pause(): Promise<void> {
    await this.#setPaused(true);
  }

  /** Admit again from the next tick (undoes {@link WaitingRoom.pause}). Idempotent. */
  async resume(): Promise<void> {
    await this.#setPaused(false);
  }

  async #setPaused(paused: boolean): Promise<void> {
    if (this.#closed) throw new QueueClosedError(this.roomId, 'closed');
    const meta = this.#keys[4] as string;
    this.#flush();
    await this.#call(paused ? 'pause' : 'resume', () =>
      paused ? this.#client.hset(meta, 'paused', '1') : this.#client.hdel(meta, 'paused'),
    );
  }

  /**
   * Stateful check for revocable tokens: true while the token's user is active in this room with
   * this `jti`. `complete()`, `leave()` and expiry revoke at once. Pass the room as
   * `requireAccess(tokens, { ..., revocation: room })`.
   */
  async isTokenActive(claims: Pick<AccessClaims, 'sub' | 'aud' | 'jti'>): Promise<boolean> {
    if (claims.aud !== this.roomId) return false;
    // A signed sub that is not a valid user id (control characters, too long) was never admitted.
    let user: string;
    try {
      user = encodeUserId(userIdOf(claims.sub));
    } catch {
      return false;
    }
    this.#flush();
    const rec = await this.#call('isTokenActive', () =>
      this.#client.hget(this.#keys[3] as string, user),
    );
    return rec !== null && rec.slice(rec.indexOf('|') + 1) === claims.jti;
  }

  /**
   * Verify a token of this room statefully: signature, expiry, scope and audience, then that the
   * user is still active.
   * @throws {AccessTokenError} 401/403 as in `AccessTokens.verify`; {@link TokenRevokedError} if revoked
   */
  async verify(jwt: string): Promise<AccessClaims> {
    const claims = await this.#tokens.verify(jwt, {
      scope: this.options.scope,
      audience: this.roomId,
    });
    if (!(await this.isTokenActive(claims))) throw new TokenRevokedError(claims.jti);
    return claims;
  }

  /**
   * Close the room: stop the ticker, delete every key of the room, and refuse joins (from every
   * instance) for `closedTtlMs`. Waiting and active users become `unknown`.
   */
  async close(): Promise<void> {
    await this.stop();
    this.#closed = true;
    const meta = this.#keys[4] as string;
    const others = this.#keys.filter((k) => k !== meta);
    this.#flush();
    await this.#call('close', () =>
      closeScript.run(this.#client, [meta, ...others, this.#lease], [this.options.closedTtlMs]),
    );
    this.#tokenCache.clear();
  }
}
