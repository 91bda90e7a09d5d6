import type { RoomEvent, RoomEvents, WaitingRoom } from '@boxoffice/queue';
import type { Logger } from 'pino';
import { inChunks } from './chunked.js';

/** Streams a tick's `position` reaches per event-loop turn. */
const BROADCAST_CHUNK = 500;

/** Width of one slot of the due-time wheel: a listener is called at the first tick of its slot. */
const SLOT_MS = 50;

/**
 * Receives the events of one room that concern one user (or everyone: `position`). For a
 * `position` it returns when it next wants one (ms since the epoch; `undefined`: at the next
 * tick): a stream far back in line, which may send a position at most every few seconds, is not
 * called at every tick in between.
 */
export type RoomListener = (event: RoomEvent) => number | undefined;

interface Entry {
  readonly listener: RoomListener;
  live: boolean;
}

/**
 * One pub/sub subscription per room and process (`room.events()`), fanned out to the SSE streams
 * of this process. Started by the first subscriber, stopped by `close()`; if the iteration ends on
 * an error it restarts after a second while anyone is listening. A user's events go to that user's
 * streams at once; a tick's `position` goes only to the streams whose due time has come (a wheel
 * of {@link SLOT_MS} slots), so a tick costs the streams that may show a new number, not all of
 * them, and a tick that finds the line where the last one left it (same serving ticket, length and
 * pause) costs none. {@link wakeAll} makes every stream due at the next tick (the sell-out).
 */
export class RoomGateway {
  readonly #room: WaitingRoom;
  readonly #logger: Logger;
  readonly #listeners = new Map<string, Set<Entry>>();
  /** Due-time slot → the entries due in it; an entry is in exactly one slot while live. */
  readonly #wheel = new Map<number, Entry[]>();
  readonly #tickHooks = new Set<(event: RoomEvent) => void>();
  #events: RoomEvents | undefined;
  #closed = false;
  #restart: NodeJS.Timeout | undefined;
  #broadcasting = false;
  #nextBroadcast: RoomEvent | undefined;
  /** The line as the streams last heard it: a tick that finds it unchanged calls nobody. */
  #heard: { servingTicket: number; waiting: number; paused: boolean } | undefined;
  #woken = false;

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
    const entry: Entry = { listener, live: true };
    set.add(entry);
    this.#due(entry, 0);
    const unsubscribe = () => {
      entry.live = false; // its wheel slot drops it when the slot comes
      const s = this.#listeners.get(userId);
      s?.delete(entry);
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

  /**
   * Run `hook` once per tick of the room in this process while anyone listens, before the streams
   * due are called (the app refreshes the sale state there). Returns the function that removes it.
   */
  onTick(hook: (event: RoomEvent) => void): () => void {
    this.#tickHooks.add(hook);
    return () => this.#tickHooks.delete(hook);
  }

  /** Every stream is due at the next tick (the sale sold out: each must hear it within a tick). */
  wakeAll(): void {
    const all: Entry[] = [];
    for (const entries of this.#wheel.values()) for (const e of entries) if (e.live) all.push(e);
    this.#wheel.clear();
    if (all.length > 0) this.#wheel.set(0, all);
    this.#woken = true;
  }

  #due(entry: Entry, at: number): void {
    const slot = Math.floor(at / SLOT_MS);
    const entries = this.#wheel.get(slot);
    if (entries) entries.push(entry);
    else this.#wheel.set(slot, [entry]);
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
      for (const entry of this.#listeners.get(event.userId) ?? []) {
        try {
          entry.listener(event);
        } catch (error) {
          onError(error);
        }
      }
      return;
    }
    // Nobody of this process listens: nothing to fan out, nothing to refresh for anyone.
    if (this.#listeners.size === 0) return;
    for (const hook of this.#tickHooks) {
      try {
        hook(event);
      } catch (error) {
        onError(error);
      }
    }
    // The streams due go in chunks (see inChunks), one fan-out at a time; ticks that come
    // meanwhile are folded into the newest, since each one supersedes the last.
    if (this.#broadcasting) {
      this.#nextBroadcast = event;
      return;
    }
    // A line that did not move (a paused room, a full booking area) gives no stream a smaller
    // number: call nobody. Streams that joined since got their exact place with their first
    // status, and a paced number not yet sent goes out at the next move or the next heartbeat.
    const heard = this.#heard;
    if (
      !this.#woken &&
      heard?.servingTicket === event.servingTicket &&
      heard.waiting === event.waiting &&
      heard.paused === event.paused
    ) {
      return;
    }
    this.#woken = false;
    this.#heard = {
      servingTicket: event.servingTicket,
      waiting: event.waiting,
      paused: event.paused,
    };
    const now = Date.now();
    const nowSlot = Math.floor(now / SLOT_MS);
    const due: Entry[] = [];
    for (const [slot, entries] of this.#wheel) {
      if (slot > nowSlot) continue;
      this.#wheel.delete(slot);
      for (const e of entries) if (e.live) due.push(e);
    }
    if (due.length === 0) return;
    this.#broadcasting = true;
    const call = (entry: Entry) => {
      if (!entry.live) return;
      let next: number | undefined;
      try {
        next = entry.listener(event);
      } finally {
        // A listener that threw is still a stream: it stays due at the next tick.
        if (entry.live) this.#due(entry, next === undefined ? now + SLOT_MS : next);
      }
    };
    void inChunks(due, BROADCAST_CHUNK, call, onError).then(() => {
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
    this.#wheel.clear();
    this.#tickHooks.clear();
    await this.#events?.close();
  }
}
