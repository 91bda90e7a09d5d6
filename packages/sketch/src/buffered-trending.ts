import { check } from '@boxoffice/internal';
import { FlushError } from './errors.js';
import type { Item, RecordOptions } from './input.js';
import type { PendingEvent, WriteOutcome } from './trend-write.js';

/** @internal What a buffer needs from its Trending. */
export interface BufferSink {
  prepare(value: unknown, n: unknown, options: unknown, into: PendingEvent): PendingEvent;
  write(events: readonly PendingEvent[]): Promise<WriteOutcome>;
}

/** Options of {@link Trending.buffered}. */
export interface BufferedTrendingOptions {
  /** Flush (and retry a failed flush) this often, in ms. @defaultValue 1000 */
  flushMs?: number;
  /** Flush as soon as this many distinct (item, bucket) entries are pending. @defaultValue 10_000 */
  maxItems?: number;
  /** Called with a {@link FlushError} when a background flush fails (its counts are kept for the next). @defaultValue undefined */
  onError?: (error: FlushError) => void;
}

const DEFAULTS: Readonly<BufferedTrendingOptions> = Object.freeze({
  flushMs: 1000,
  maxItems: 10_000,
  onError: undefined,
});

/**
 * In-process pre-aggregation in front of a {@link Trending}: `record()` adds to a Map (equal items in
 * one bucket become one entry with the summed count); each flush sends all entries in one round trip.
 * Counts are lost only if the process dies before a flush; a flush that fails is merged back and
 * retried. A flush whose reply is lost after Redis applied it (timeout, dropped connection) is
 * retried too, so those counts may be applied twice (at-least-once).
 */
export class BufferedTrending {
  readonly #sink: BufferSink;
  readonly #maxItems: number;
  readonly #onError: ((error: FlushError) => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  // bucket → item → summed n (in a holder: one Map lookup for a repeated item)
  #counts = new Map<number, Map<string, { n: number }>>();
  // record() validates into this object (no allocation per event); #add copies what it keeps
  readonly #scratch: PendingEvent = { bucket: 0, item: '', n: 0, dedupeBy: undefined };
  // bucket/item/dedupeBy → first event (a repeat is a no-op in Redis anyway)
  #deduped = new Map<string, PendingEvent>();
  #size = 0;
  // the bucket map used last (events mostly go to the current bucket): saves a lookup per event
  #lastBucket = Number.NaN;
  #lastItems: Map<string, { n: number }> | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #closed = false;
  #waiting = false;

  /** @internal Use {@link Trending.buffered}. */
  constructor(sink: BufferSink, options?: BufferedTrendingOptions) {
    const o = check.mergeOptions('buffered options', DEFAULTS, options);
    const flushMs = check.integer('buffered.flushMs', o.flushMs, { min: 1, max: 3_600_000 });
    this.#maxItems = check.integer('buffered.maxItems', o.maxItems, { min: 1, max: 10_000_000 });
    this.#onError =
      o.onError === undefined
        ? undefined
        : check.func<(e: FlushError) => void>('buffered.onError', o.onError);
    this.#sink = sink;
    this.#timer = setInterval(() => this.#background(), flushMs);
    this.#timer.unref();
  }

  /** Distinct (item, bucket) entries waiting for a flush. */
  get pending(): number {
    return this.#size;
  }

  /** Count `n` occurrences of `item` (validated now, sent with the next flush). */
  record(value: Item, n = 1, options?: RecordOptions): void {
    if (this.#closed) throw new TypeError('record: this buffer is closed');
    this.#add(this.#sink.prepare(value, n, options, this.#scratch));
    if (this.#size >= this.#maxItems) this.#background();
  }

  #add(e: PendingEvent): void {
    if (e.dedupeBy !== undefined) {
      const key = `${e.bucket}\u0000${e.item.length}:${e.item}${e.dedupeBy}`;
      if (!this.#deduped.has(key)) {
        this.#deduped.set(key, { ...e });
        this.#size++;
      }
      return;
    }
    let items = e.bucket === this.#lastBucket ? this.#lastItems : this.#counts.get(e.bucket);
    if (!items) {
      items = new Map();
      this.#counts.set(e.bucket, items);
    }
    this.#lastBucket = e.bucket;
    this.#lastItems = items;
    const current = items.get(e.item);
    if (current === undefined) {
      items.set(e.item, { n: e.n });
      this.#size++;
    } else {
      current.n += e.n;
    }
  }

  // At most one background flush waits behind the one in flight; it takes everything recorded
  // meanwhile, so a burst past maxItems makes one large flush rather than many small ones.
  #background(): void {
    if (this.#waiting) return;
    this.#waiting = true;
    this.flush().catch((error: FlushError) => this.#onError?.(error));
  }

  /**
   * Send everything pending in one round trip. Flushes run one at a time; on failure the entries go
   * back into the buffer and the promise rejects with a {@link FlushError}.
   */
  flush(): Promise<void> {
    const run = this.#inFlight.then(() => {
      this.#waiting = false;
      return this.#flushNow();
    });
    this.#inFlight = run.catch(() => {});
    return run;
  }

  async #flushNow(): Promise<void> {
    if (this.#size === 0) return;
    const events: PendingEvent[] = [...this.#deduped.values()];
    for (const [bucket, items] of this.#counts) {
      for (const [item, { n }] of items) events.push({ bucket, item, n, dedupeBy: undefined });
    }
    this.#counts = new Map();
    this.#lastBucket = Number.NaN;
    this.#lastItems = undefined;
    this.#deduped = new Map();
    this.#size = 0;
    let failed: PendingEvent[];
    let error: unknown;
    try {
      ({ failed, error } = await this.#sink.write(events));
    } catch (e) {
      failed = events;
      error = e;
    }
    if (failed.length > 0) {
      // only the script calls that failed go back; the others were applied
      for (const e of failed) this.#add(e);
      throw new FlushError(failed.length, error);
    }
  }

  /** Stop the timer and flush what is pending; rejects with a {@link FlushError} if that fails (call again to retry). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush();
  }
}
