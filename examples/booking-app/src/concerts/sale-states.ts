import { remember } from '../bounded-map.js';
import type { ConcertRepository } from './concert-repository.js';

/**
 * A concert's sale as the waiting room sees it: sold out (final), and whether a seat is AVAILABLE
 * now (when every seat left is HELD, admitting more users only shows them a full map); `null` when
 * there is no such concert.
 */
export type SaleState = { soldOut: boolean; available: boolean } | null;

interface Entry {
  state: SaleState;
  readAt: number;
  pending?: Promise<SaleState>;
}

/**
 * Whether each concert is sold out, read from PostgreSQL at most once per `maxAgeMs` per concert and
 * instance (concurrent callers share one query), instead of once per waiting-room poll or stream
 * beat. A sold-out answer is kept for good: it is final (an ASSIGNED seat never returns). So a waiter
 * learns of the sell-out at most `maxAgeMs` (plus its next poll or the next tick of its stream) late;
 * a seat map or a reservation never relies on this.
 */
export class SaleStates {
  readonly #concerts: ConcertRepository;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #onChange: ((id: number, state: SaleState) => void) | undefined;
  readonly #entries = new Map<number, Entry>();

  /**
   * @param options.maxAgeMs - How old an answer may be. @defaultValue 1000
   * @param options.maxEntries - Concerts remembered (the oldest are forgotten first). @defaultValue 10000
   * @param options.onChange - Called when a read differs from the one before (or is the first).
   */
  constructor(
    concerts: ConcertRepository,
    options: {
      maxAgeMs?: number;
      maxEntries?: number;
      onChange?: (id: number, state: SaleState) => void;
    } = {},
  ) {
    this.#concerts = concerts;
    this.#maxAgeMs = options.maxAgeMs ?? 1000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#onChange = options.onChange;
  }

  /** The sale state of concert `id`, at most `maxAgeMs` old unless sold out. */
  get(id: number): Promise<SaleState> {
    const entry = this.#entries.get(id);
    if (entry?.pending) return entry.pending;
    if (entry && (entry.state?.soldOut || Date.now() - entry.readAt < this.#maxAgeMs)) {
      return Promise.resolve(entry.state);
    }
    const pending = this.#concerts.saleState(id).then(
      (state) => {
        remember(this.#entries, id, { state, readAt: Date.now() }, this.#maxEntries);
        const before = entry && entry.readAt > 0 ? entry.state : undefined;
        if (before?.soldOut !== state?.soldOut || before?.available !== state?.available) {
          this.#onChange?.(id, state);
        }
        return state;
      },
      (error: unknown) => {
        if (entry) this.#entries.set(id, { state: entry.state, readAt: entry.readAt });
        else this.#entries.delete(id);
        throw error;
      },
    );
    remember(
      this.#entries,
      id,
      { state: entry?.state ?? null, readAt: entry?.readAt ?? 0, pending },
      this.#maxEntries,
    );
    return pending;
  }

  /** The last state read for `id` without asking PostgreSQL (`undefined`: never read). */
  peek(id: number): SaleState | undefined {
    const entry = this.#entries.get(id);
    return entry && entry.readAt > 0 ? entry.state : undefined;
  }
}
