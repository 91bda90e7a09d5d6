import type { RoomEvent, RoomEvents, WaitingRoom } from '@boxoffice/queue';
import type { Logger } from 'pino';
import { inChunks } from './chunked.js';

/** Streams a tick's `position` reaches per event-loop turn. */
const BROADCAST_CHUNK = 500;

/** Receives the events of one room that concern one user (or everyone: `position`). */
export type RoomListener = (event: RoomEvent) => void;

/**
 * One pub/sub subscription per room and process (`room.events()`), fanned out to the SSE streams
 * of this process. Started by the first subscriber, stopped by `close()`; if the iteration ends on
 * an error it restarts after a second while anyone is listening.
 */
export class RoomGateway {
  readonly #room: WaitingRoom;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Set<RoomListener>>();
  #events: RoomEvents | undefined;
  #closed = false;
  #restart: NodeJS.Timeout | undefined;
  #broadcasting = false;
  #nextBroadcast: RoomEvent | undefined;

  constructor(room: WaitingRoom, logger: Logger) {
    this.#room = room;
    this.#logger = logger;
  }

  /** Listen to `userId`'s events and the room's broadcasts; resolves once subscribed. */
  async subscribe(userId: string, listener: RoomListener): Promise<() => void> {
    let set = this.#listeners.get(userId);
    if (!set) {
      set = new Set();
      this.#listeners.set(userId, set);
    }
    set.add(listener);
    const unsubscribe = () => {
      const s = this.#listeners.get(userId);
      s?.delete(listener);
      if (s && s.size === 0) this.#listeners.delete(userId);
    };
    if (!this.#closed) {
      this.#start();
      await this.#events?.ready;
    }
    return unsubscribe;
  }

  /** Number of SSE listeners in this process. */
  get listeners(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  #start(): void {
    if (this.#events || this.#closed) return;
    const events = this.#room.events({ maxBuffer: 10_000 });
    this.#events = events;
    void (async () => {
      try {
        for await (const event of events) this.#dispatch(event);
      } catch (error) {
        this.#logger.warn({ err: error, room: this.#room.roomId }, 'room events ended');
      } finally {
        if (this.#events === events) this.#events = undefined;
        if (!this.#closed && this.#listeners.size > 0) {
          this.#restart = setTimeout(() => this.#start(), 1000);
          this.#restart.unref();
        }
      }
    })();
  }

  #dispatch(event: RoomEvent): void {
    const onError = (error: unknown) => this.#logger.warn({ err: error }, 'room listener failed');
    if (event.type !== 'position') {
      for (const listener of this.#listeners.get(event.userId) ?? []) {
        try {
          listener(event);
        } catch (error) {
          onError(error);
        }
      }
      return;
    }
    // A tick's position goes to every stream of the process: in chunks (see inChunks), and one
    // fan-out at a time; ticks that come meanwhile are folded into the newest, since each one
    // supersedes the last.
    if (this.#broadcasting) {
      this.#nextBroadcast = event;
      return;
    }
    this.#broadcasting = true;
    const listeners = this.#listeners;
    function* everyone() {
      for (const set of listeners.values()) yield* set;
    }
    void inChunks(everyone(), BROADCAST_CHUNK, (listener) => listener(event), onError).then(() => {
      this.#broadcasting = false;
      const next = this.#nextBroadcast;
      this.#nextBroadcast = undefined;
      if (next && !this.#closed) this.#dispatch(next);
    });
  }

  /** Stop the subscription; listeners get nothing more. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restart);
    this.#listeners.clear();
    await this.#events?.close();
  }
}
