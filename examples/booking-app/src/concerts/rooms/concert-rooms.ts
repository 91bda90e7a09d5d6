import { createHmac } from 'node:crypto';
import type { RedisClient } from '@boxoffice/internal';
import { type AccessClaims, AccessTokens, type TickResult, WaitingRoom } from '@boxoffice/queue';
import type { Logger } from 'pino';
import type { AppMetrics } from '../../observability/metrics.js';
import { QUEUE_DEFAULTS, type QueueSettings } from './queue-settings.js';
import { RoomGateway } from './room-gateway.js';

/** Options of {@link ConcertRooms}. */
export interface ConcertRoomsOptions {
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Secret the access tokens are derived from (≥ 32 bytes); independent of the user tokens' key. */
  secret: string | Uint8Array;
  /** @defaultValue {@link QUEUE_DEFAULTS} */
  settings?: Partial<QueueSettings>;
  /** Run each room's ticker (`room.start()`) in this process. @defaultValue true */
  tick?: boolean;
  logger: Logger;
  metrics?: AppMetrics;
  /** Called after each tick this process's ticker ran. @defaultValue undefined */
  onTick?: (concertId: number, result: TickResult) => void;
}

/**
 * The waiting room of every concert (`roomId` = `concert-<id>`), created on first use, with its
 * ticker started on every instance (the package's fenced lease lets exactly one tick at a time), the
 * per-process SSE gateway, and the {@link AccessTokens} that sign `queue_entry` and
 * `seat_reservation_payment` tokens.
 */
export class ConcertRooms {
  readonly tokens: AccessTokens;
  readonly settings: Readonly<QueueSettings>;
  readonly #client: RedisClient;
  readonly #options: ConcertRoomsOptions;
  readonly #rooms = new Map<number, { room: WaitingRoom; gateway: RoomGateway }>();
  #closed = false;

  constructor(client: RedisClient, options: ConcertRoomsOptions) {
    this.#client = client;
    this.#options = options;
    this.settings = Object.freeze({ ...QUEUE_DEFAULTS, ...options.settings });
    // A key of its own (HMAC of the app secret), so a user token can never pass as an access token.
    const key = createHmac('sha256', options.secret).update('boxoffice-access-tokens').digest();
    this.tokens = new AccessTokens({ secret: key, issuer: 'boxoffice-booking-app' });
  }

  /** The room id of a concert (the `aud` of its tokens). */
  static roomId(concertId: number): string {
    return `concert-${concertId}`;
  }

  /**
   * Whether an access token is still live in the room its `aud` names (`concert-<id>`): the
   * `revocation` of a `requireAccess` guard over every concert. Call it with verified claims only:
   * it creates the room named.
   */
  isTokenActive(claims: AccessClaims): Promise<boolean> {
    const match = /^concert-([1-9][0-9]{0,9})$/.exec(claims.aud);
    if (!match) return Promise.resolve(false);
    return this.room(Number(match[1])).isTokenActive(claims);
  }

  /** The concert's room (created and, with `tick`, started on first use). */
  room(concertId: number): WaitingRoom {
    return this.#entry(concertId).room;
  }

  /** The concert's SSE gateway in this process. */
  gateway(concertId: number): RoomGateway {
    return this.#entry(concertId).gateway;
  }

  #entry(concertId: number) {
    let entry = this.#rooms.get(concertId);
    if (entry) return entry;
    if (this.#closed) throw new Error('ConcertRooms is closed');
    const { logger, metrics } = this.#options;
    const roomId = ConcertRooms.roomId(concertId);
    const room = new WaitingRoom(this.#client, {
      roomId,
      prefix: this.#options.prefix ?? 'bo',
      tokens: this.tokens,
      ...this.settings,
      onTick: (result: TickResult) => {
        if (metrics) {
          metrics.queueAdmitted.inc({ concert: String(concertId) }, result.admitted.length);
          metrics.queueEvicted.inc(
            { concert: String(concertId), reason: 'timeout' },
            result.evicted.length,
          );
          metrics.queueEvicted.inc(
            { concert: String(concertId), reason: 'expired' },
            result.expired.length,
          );
          metrics.queueWaiting.set({ concert: String(concertId) }, result.waiting);
          metrics.queueActive.set({ concert: String(concertId) }, result.active);
          metrics.queuePaused.set({ concert: String(concertId) }, result.paused ? 1 : 0);
          metrics.queueLastTick.set({ concert: String(concertId) }, result.at / 1000);
        }
        this.#options.onTick?.(concertId, result);
        if (result.admitted.length + result.evicted.length + result.expired.length > 0) {
          logger.debug({ room: roomId, ...result }, 'queue tick');
        }
      },
      onError: (error: unknown) => logger.warn({ err: error, room: roomId }, 'queue tick failed'),
    });
    entry = { room, gateway: new RoomGateway(room, logger) };
    this.#rooms.set(concertId, entry);
    if (this.#options.tick ?? true) room.start();
    return entry;
  }

  /** Stop every ticker and SSE subscription of this process (the rooms' data stays in Redis). */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#rooms.values()];
    this.#rooms.clear();
    await Promise.all(entries.map(async (e) => Promise.all([e.room.stop(), e.gateway.close()])));
  }
}
