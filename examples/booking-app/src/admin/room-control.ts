import type { RedisClient } from '@boxoffice/internal';
import type { Logger } from 'pino';
import type { ConcertRepository } from '../concerts/concert-repository.js';
import type { ConcertRooms } from '../concerts/rooms/concert-rooms.js';
import type { SaleState } from '../concerts/sale-states.js';

/** Why a concert's room admits nobody: an operator said so, or no seat is AVAILABLE. */
export interface PauseReasons {
  /** An operator paused the room (`POST /admin/api/concerts/:id/room/pause`) and has not resumed it. */
  operator: boolean;
  /** The app paused the room because no seat is AVAILABLE (every seat left is HELD or sold). */
  noSeatAvailable: boolean;
}

/**
 * The two reasons to pause a concert's waiting room, kept apart. The queue package has one
 * `paused` flag (`room.pause()` / `room.resume()`); the app sets it for two reasons — no seat
 * AVAILABLE (automatic, from {@link SaleStates} changes) and an operator — and the automatic resume
 * must not undo an operator's pause. So the operator's pause has a home of its own: a Redis key per
 * concert, shared by every instance (`<prefix>:ops:{concert-<id>}:operator-paused`, the room's hash
 * tag), and the room is resumed only when neither reason holds:
 *
 * - in one process, the changes of one concert's room run one after another (a chain per concert),
 *   so an operator's pause and an automatic resume never interleave;
 * - across instances, the automatic resume (a seat became AVAILABLE) skips a room an operator
 *   paused, and checks the key again after resuming, re-pausing if an operator paused in between
 *   on another instance (that pause wins within two round trips; a tick landing exactly in that
 *   gap could still admit once);
 * - the operator's resume clears the key and resumes the room only if a seat is AVAILABLE now (one
 *   fresh query, not the cached sale state, so a stale "available" cannot reopen a full room).
 *
 * An atomic version needs the package: pause reasons in the room's meta hash (paused while any is
 * set), see the report of issue #15.
 */
export class RoomControl {
  readonly #redis: RedisClient;
  readonly #rooms: ConcertRooms;
  readonly #concerts: ConcertRepository;
  readonly #prefix: string;
  readonly #logger: Logger;
  /** Per concert: the tail of this process's pending room changes. */
  readonly #chains = new Map<number, Promise<unknown>>();

  constructor(deps: {
    redis: RedisClient;
    rooms: ConcertRooms;
    concerts: ConcertRepository;
    prefix: string;
    logger: Logger;
  }) {
    this.#redis = deps.redis;
    this.#rooms = deps.rooms;
    this.#concerts = deps.concerts;
    this.#prefix = deps.prefix;
    this.#logger = deps.logger;
  }

  /** The Redis key of the operator's pause of concert `id`. */
  operatorKey(id: number): string {
    return `${this.#prefix}:ops:{concert-${id}}:operator-paused`;
  }

  /** Whether an operator paused concert `id`'s room (one GET). */
  async operatorPaused(id: number): Promise<boolean> {
    return (await this.#redis.exists(this.operatorKey(id))) === 1;
  }

  /** The operator pauses the room: the key first, so an automatic resume that reads it backs off. */
  pause(id: number): Promise<void> {
    return this.#serial(id, async () => {
      await this.#redis.set(this.operatorKey(id), String(Date.now()));
      await this.#rooms.room(id).pause();
    });
  }

  /**
   * The operator resumes: the operator's reason goes; the room admits again only if a seat is
   * AVAILABLE (otherwise it stays paused for that reason, and the automatic resume reopens it).
   * @returns whether the room was resumed
   */
  resume(id: number): Promise<boolean> {
    return this.#serial(id, async () => {
      await this.#redis.del(this.operatorKey(id));
      const state = await this.#concerts.saleState(id);
      if (!state?.available) return false;
      await this.#rooms.room(id).resume();
      return true;
    });
  }

  /** What {@link SaleStates} calls when a concert's sale state changes: pause or resume for seats. */
  onSaleChange(id: number, state: SaleState): void {
    if (state === null) return;
    this.#serial(id, () => this.#follow(id, state.available)).catch((error: unknown) =>
      this.#logger.warn({ err: error, concert: id }, 'room pause/resume failed'),
    );
  }

  /** Run `change` after this process's earlier changes of concert `id`'s room. */
  #serial<T>(id: number, change: () => Promise<T>): Promise<T> {
    const run = (this.#chains.get(id) ?? Promise.resolve()).then(change, change);
    const tail = run.catch(() => {});
    this.#chains.set(id, tail);
    void tail.then(() => {
      if (this.#chains.get(id) === tail) this.#chains.delete(id);
    });
    return run;
  }

  async #follow(id: number, available: boolean): Promise<void> {
    const room = this.#rooms.room(id);
    if (!available) return room.pause();
    if (await this.operatorPaused(id)) return;
    await room.resume();
    // An operator who paused between the check and the resume keeps the room paused.
    if (await this.operatorPaused(id)) await room.pause();
  }
}
