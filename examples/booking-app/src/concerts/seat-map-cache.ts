import { createHash } from 'node:crypto';
import { remember } from '../bounded-map.js';
import type { ConcertRepository } from './concert-repository.js';

/** How the seat map of the compact form is cached in one process. */
export interface SeatMapCacheOptions {
  /**
   * How long one status snapshot (one SQL query) answers every request of its concert in this
   * process. A status change shows up within twice this (the previous snapshot answers while the
   * next one's query runs), or one query's duration when that is longer; 0 = a query per
   * request (concurrent requests still share one).
   * @defaultValue 1000
   */
  statusTtlMs?: number;
  /** Most concerts whose layout and status snapshot are kept (oldest dropped first). @defaultValue 1000 */
  maxConcerts?: number;
}

const DEFAULTS: Readonly<Required<SeatMapCacheOptions>> = Object.freeze({
  statusTtlMs: 1000,
  maxConcerts: 1000,
});

/** A serialized answer: the exact bytes sent, and the strong ETag (quoted) of those bytes. */
export interface CachedBody {
  etag: string;
  body: Buffer;
}

interface Layout extends CachedBody {
  /** The layout's version: its ETag without the quotes. */
  version: string;
  seatCount: number;
}

interface Snapshot {
  /** The last answer and when its query started. */
  settled?: { body: CachedBody | null; at: number };
  /** The query in flight, if any. */
  loading?: Promise<CachedBody | null>;
}

/** A short content hash: equal bytes give equal ETags on every instance. */
const digest = (text: string) => createHash('sha1').update(text).digest('base64url').slice(0, 22);

/**
 * The compact seat map: the layout (static: serialized once per concert and kept) and the status
 * string (one snapshot query per concert at most once per `statusTtlMs`, single-flight: requests
 * arriving while it runs share it, or get the previous answer while that is younger than twice the
 * TTL). It is a view for choosing seats, never an authority: the
 * reservation path decides whether a seat is free.
 */
export class SeatMapCache {
  private readonly options: Readonly<Required<SeatMapCacheOptions>>;
  private readonly layouts = new Map<number, Promise<Layout | null>>();
  private readonly snapshots = new Map<number, Snapshot>();

  constructor(
    private readonly concerts: ConcertRepository,
    options: SeatMapCacheOptions = {},
  ) {
    this.options = Object.freeze({ ...DEFAULTS, ...options });
    const { statusTtlMs, maxConcerts } = this.options;
    if (!Number.isInteger(statusTtlMs) || statusTtlMs < 0 || statusTtlMs > 600_000) {
      throw new RangeError(`statusTtlMs must be an integer in [0, 600000], got ${statusTtlMs}`);
    }
    if (!Number.isInteger(maxConcerts) || maxConcerts < 1) {
      throw new RangeError(`maxConcerts must be a positive integer, got ${maxConcerts}`);
    }
  }

  /**
   * The longest a status answer lags the database: twice the TTL (an answer older than the TTL is
   * still served while its successor's query runs, up to twice the TTL), or one query's duration
   * when that is longer.
   */
  get maxStalenessMs(): number {
    return 2 * this.options.statusTtlMs;
  }

  /** The serialized layout of a concert, or null when unknown (not kept: it may be created). */
  layout(id: number): Promise<Layout | null> {
    let entry = this.layouts.get(id);
    if (!entry) {
      entry = this.concerts.layout(id).then((layout) => {
        if (!layout) return null;
        const text = JSON.stringify(layout);
        const version = `l-${digest(text)}`;
        const seatCount = layout.rows.reduce((n, r) => n + r.ids.length, 0);
        return {
          version,
          seatCount,
          etag: `"${version}"`,
          body: Buffer.from(JSON.stringify({ version, ...layout })),
        };
      });
      remember(this.layouts, id, entry, this.options.maxConcerts);
      entry.then(
        (layout) => {
          if (!layout) this.forgetLayout(id, entry);
        },
        () => this.forgetLayout(id, entry),
      );
    }
    return entry;
  }

  /**
   * The serialized status of a concert's seats, or null when unknown. Fresh (younger than the TTL):
   * the kept answer. Older: a new query starts (one at a time per concert), and the kept answer is
   * served meanwhile while it is younger than twice the TTL — so under load, when the query waits
   * for a database connection, requests do not wait with it; older still, requests wait for it.
   */
  status(id: number): Promise<CachedBody | null> {
    const now = Date.now();
    let snapshot = this.snapshots.get(id);
    if (!snapshot) {
      snapshot = {};
      remember(this.snapshots, id, snapshot, this.options.maxConcerts);
    }
    const { settled } = snapshot;
    const ttl = this.options.statusTtlMs;
    if (settled && now - settled.at < ttl) return Promise.resolve(settled.body);
    const loading = snapshot.loading ?? this.refresh(id, snapshot, now);
    return settled && now - settled.at < 2 * ttl ? Promise.resolve(settled.body) : loading;
  }

  /** Start the status query of `snapshot`; its answer is kept when it settles. */
  private refresh(id: number, snapshot: Snapshot, at: number): Promise<CachedBody | null> {
    const loading = this.load(id);
    snapshot.loading = loading;
    // The age counts from the query's start: the answer reflects the database as of then.
    loading.then(
      (body) => {
        snapshot.settled = { body, at };
        snapshot.loading = undefined;
      },
      () => {
        snapshot.loading = undefined;
        if (!snapshot.settled && this.snapshots.get(id) === snapshot) this.snapshots.delete(id);
      },
    );
    return loading;
  }

  private async load(id: number): Promise<CachedBody | null> {
    // The layout is kept after the first time; the first time, both queries run side by side.
    let [codes, layout] = await Promise.all([this.concerts.statusCodes(id), this.layout(id)]);
    if (codes === null) return null;
    if (layout && layout.seatCount !== codes.length) {
      // The seats changed since the layout was kept (not done by this app): serialize it again.
      this.layouts.delete(id);
      layout = await this.layout(id);
    }
    if (!layout) return null;
    const version = `s-${digest(`${layout.version}:${codes}`)}`;
    const available = countOf(codes, 'A');
    const body = {
      concertId: id,
      layout: layout.version,
      version,
      maxStalenessMs: this.maxStalenessMs,
      seatCount: codes.length,
      availableCount: available,
      codes,
    };
    return { etag: `"${version}"`, body: Buffer.from(JSON.stringify(body)) };
  }

  private forgetLayout(id: number, entry: Promise<Layout | null> | undefined): void {
    if (this.layouts.get(id) === entry) this.layouts.delete(id);
  }
}

function countOf(text: string, letter: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text[i] === letter) n++;
  return n;
}
