import type { RoomSettings, WaitTimes } from '@boxoffice/queue';
import type { Counter } from 'prom-client';
import { remember } from '../bounded-map.js';
import type { ConcertRooms } from '../concerts/rooms/concert-rooms.js';
import type { SaleStates } from '../concerts/sale-states.js';
import type { SeatMapCache } from '../concerts/seat-map-cache.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { PauseReasons, RoomControl } from './room-control.js';

/** A concert's seats by status, from the seat map's status snapshot. */
export interface SeatCounts {
  total: number;
  available: number;
  held: number;
  sold: number;
  blocked: number;
  /** Not sold yet and for sale: AVAILABLE + HELD (a hold may still expire). */
  left: number;
}

/** One second of a concert's sale, as the operator page draws it. */
export interface LiveSnapshot {
  concertId: number;
  /** When it was read (ISO 8601, this server's clock). */
  at: string;
  waiting: number;
  active: number;
  /** Admissions of the last minute, as of the last tick. */
  admittedPerMin: number;
  /** Waiters who left or were evicted for silence during the last minute, as of the last tick. */
  abandonedPerMin: number;
  /** Wait (join → admission) of the users admitted during the last minute. */
  waitMs: WaitTimes;
  /** Ticks the room has run (any instance): it moves once per `QUEUE_TICK_MS` while a ticker runs. */
  ticks: number;
  /** Whether the room admits nobody now (either reason). */
  paused: boolean;
  pausedBy: PauseReasons;
  settings: RoomSettings;
  seats: SeatCounts;
  /**
   * Payment outcomes (`boxoffice_payments_total` by `outcome`) and reservation attempts
   * (`boxoffice_reservations_total` by `outcome`) counted by this instance since it started, every
   * concert: the counters' current values, not a query.
   */
  payments: Record<string, number>;
  reservations: Record<string, number>;
  /** Reservations refused because a seat was locked by another hold (outcome `seat-locked`, 409). */
  reservationConflicts: number;
}

/** The room's live figures and settings (the `GET /admin/api/concerts/:id/room` answer). */
export type RoomView = Omit<
  LiveSnapshot,
  'seats' | 'payments' | 'reservations' | 'reservationConflicts'
>;

const LETTERS: Record<string, keyof Omit<SeatCounts, 'total' | 'left'>> = {
  A: 'available',
  H: 'held',
  S: 'sold',
  B: 'blocked',
};

/** Count the one-letter statuses of the seat map's status snapshot. */
export function countSeats(codes: string): SeatCounts {
  const counts: SeatCounts = { total: 0, available: 0, held: 0, sold: 0, blocked: 0, left: 0 };
  for (const letter of codes) {
    const field = LETTERS[letter];
    if (field) counts[field]++;
    counts.total++;
  }
  counts.left = counts.available + counts.held;
  return counts;
}

async function byLabel(counter: Counter<string>, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await counter.get()).values) {
    const key = String(labels[label] ?? '');
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

/**
 * Builds the operator page's snapshots. Each source is one that exists anyway: the room's
 * `stats()` (one Lua call) and the operator key (one EXISTS) in Redis, the seat map's status
 * snapshot ({@link SeatMapCache}: one query per concert at most once per `SEAT_STATUS_CACHE_MS`,
 * shared with the seat-map pages), the cached sale state ({@link SaleStates}), and the
 * prom-client counters read from memory. Viewers of one concert in one process share a snapshot
 * per `maxAgeMs` (single-flight), so ten open pages cost what one does.
 */
export class LiveSnapshots {
  readonly #deps: {
    rooms: ConcertRooms;
    control: RoomControl;
    sales: SaleStates;
    seatMap: SeatMapCache;
    metrics: AppMetrics;
  };
  readonly #maxAgeMs: number;
  readonly #recent = new Map<number, { at: number; snapshot: Promise<LiveSnapshot> }>();

  constructor(
    deps: {
      rooms: ConcertRooms;
      control: RoomControl;
      sales: SaleStates;
      seatMap: SeatMapCache;
      metrics: AppMetrics;
    },
    options: { maxAgeMs?: number } = {},
  ) {
    this.#deps = deps;
    this.#maxAgeMs = options.maxAgeMs ?? 900;
  }

  /** The room's figures, settings and pause reasons (read now, never cached). */
  async room(id: number): Promise<RoomView> {
    const { rooms, control, sales } = this.#deps;
    const [stats, operator, sale] = await Promise.all([
      rooms.room(id).stats(),
      control.operatorPaused(id),
      sales.get(id),
    ]);
    return {
      concertId: id,
      at: new Date().toISOString(),
      waiting: stats.waiting,
      active: stats.active,
      admittedPerMin: stats.admittedPerMin,
      abandonedPerMin: stats.abandonedPerMin,
      waitMs: stats.waitMs,
      ticks: stats.ticks,
      paused: stats.paused,
      pausedBy: { operator, noSeatAvailable: sale !== null && !sale.available },
      settings: stats.settings,
    };
  }

  /** A snapshot of concert `id` at most `maxAgeMs` old (concurrent callers share one read). */
  snapshot(id: number): Promise<LiveSnapshot> {
    const now = Date.now();
    const recent = this.#recent.get(id);
    if (recent && now - recent.at < this.#maxAgeMs) return recent.snapshot;
    const snapshot = this.#read(id);
    remember(this.#recent, id, { at: now, snapshot }, 1000);
    snapshot.catch(() => {
      if (this.#recent.get(id)?.snapshot === snapshot) this.#recent.delete(id);
    });
    return snapshot;
  }

  async #read(id: number): Promise<LiveSnapshot> {
    const { seatMap, metrics } = this.#deps;
    const [room, status, payments, reservations] = await Promise.all([
      this.room(id),
      seatMap.status(id),
      byLabel(metrics.payments, 'outcome'),
      byLabel(metrics.reservations, 'outcome'),
    ]);
    const codes = status ? (JSON.parse(status.body.toString()) as { codes: string }).codes : '';
    return {
      ...room,
      seats: countSeats(codes),
      payments,
      reservations,
      reservationConflicts: reservations['seat-locked'] ?? 0,
    };
  }
}
