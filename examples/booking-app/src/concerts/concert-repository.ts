import { remember } from '../bounded-map.js';
import type { Database } from '../db/database.js';

/** Most concert ids {@link ConcertRepository.exists} remembers. */
const KNOWN_MAX = 10_000;

/** The four states of a seat (DESIGN.md: BLOCKED/ASSIGNED answer 400 when reserved). */
export type SeatStatus = 'AVAILABLE' | 'HELD' | 'ASSIGNED' | 'BLOCKED';

/** A concert as listed. */
export interface Concert {
  id: number;
  name: string;
  venue: string;
  startsAt: string;
  salesOpenAt: string;
  seatCount: number;
  availableCount: number;
}

/** One seat of a seat map. */
export interface Seat {
  id: number;
  label: string;
  section: string;
  row: string;
  number: number;
  price: number;
  /** Prices are integer cents. */
  currency: 'USD';
  status: SeatStatus;
}

interface ConcertRow {
  id: number;
  name: string;
  venue: string;
  starts_at: Date;
  sales_open_at: Date;
  seat_count: number;
  available_count: number;
}

const CONCERT_COLUMNS = `c.id, c.name, c.venue, c.starts_at, c.sales_open_at,
  (SELECT count(*)::int FROM seats s WHERE s.concert_id = c.id) AS seat_count,
  (SELECT count(*)::int FROM seats s WHERE s.concert_id = c.id AND s.status = 'AVAILABLE') AS available_count`;

/**
 * The one order of a seat map, shared by the full form, the layout and the status string (whose
 * i-th character is the i-th seat of the layout); `id` breaks ties so the order is total.
 */
const SEAT_ORDER = 'row_label, seat_number, id';

/** One letter per seat status in the compact status string. */
export const STATUS_CODES: Readonly<Record<SeatStatus, string>> = Object.freeze({
  AVAILABLE: 'A',
  HELD: 'H',
  ASSIGNED: 'S',
  BLOCKED: 'B',
});

/** The static part of a concert's seat map: what never changes while its seats are sold. */
export interface SeatLayout {
  concert: Omit<Concert, 'availableCount'>;
  currency: 'USD';
  /** Consecutive seats of one section and row, in {@link SEAT_ORDER}; parallel arrays. */
  rows: {
    section: string;
    row: string;
    ids: number[];
    numbers: number[];
    labels: string[];
    /** Integer cents. */
    prices: number[];
  }[];
}

function toConcert(r: ConcertRow): Concert {
  return {
    id: r.id,
    name: r.name,
    venue: r.venue,
    startsAt: r.starts_at.toISOString(),
    salesOpenAt: r.sales_open_at.toISOString(),
    seatCount: r.seat_count,
    availableCount: r.available_count,
  };
}

/** Concerts and seat maps (read side; ReservationService and PaymentService write seat states). */
export class ConcertRepository {
  /** Ids of concerts seen to exist (bounded). */
  readonly #known = new Map<number, true>();

  constructor(private readonly db: Database) {}

  /** Every concert, soonest first, with seat counts. */
  async list(): Promise<Concert[]> {
    const { rows } = await this.db.query<ConcertRow>(
      `SELECT ${CONCERT_COLUMNS} FROM concerts c ORDER BY c.starts_at, c.id`,
    );
    return rows.map(toConcert);
  }

  /**
   * True if the concert exists. A concert once found is remembered (the app never deletes one), so
   * the reservation route's 404 check costs no query per request.
   */
  async exists(id: number): Promise<boolean> {
    if (this.#known.has(id)) return true;
    const { rows } = await this.db.query('SELECT 1 FROM concerts WHERE id = $1', [id]);
    if (rows.length > 0) remember(this.#known, id, true, KNOWN_MAX);
    return rows.length > 0;
  }

  /**
   * Whether a concert is sold out — no seat AVAILABLE or HELD (a held seat may come back), which is
   * final since an ASSIGNED seat never returns — and whether a seat is AVAILABLE now, or `null` when
   * there is no such concert. One query, index probes on (concert_id, status).
   */
  async saleState(id: number): Promise<{ soldOut: boolean; available: boolean } | null> {
    const { rows } = await this.db.query<{ sold_out: boolean; available: boolean }>(
      `SELECT NOT EXISTS (
         SELECT 1 FROM seats s WHERE s.concert_id = c.id AND s.status IN ('AVAILABLE', 'HELD')
       ) AS sold_out,
       EXISTS (
         SELECT 1 FROM seats s WHERE s.concert_id = c.id AND s.status = 'AVAILABLE'
       ) AS available
       FROM concerts c WHERE c.id = $1`,
      [id],
    );
    const row = rows[0];
    return row === undefined ? null : { soldOut: row.sold_out, available: row.available };
  }

  /** One concert and its seat map ordered by row and number, or null when unknown. */
  async get(id: number): Promise<{ concert: Concert; seats: Seat[] } | null> {
    const found = await this.#withSeats(id);
    if (!found) return null;
    return {
      concert: toConcert(found.row),
      seats: found.seats.map((s) => ({
        id: s.id,
        label: s.label,
        section: s.section,
        row: s.row_label,
        number: s.seat_number,
        price: s.price_cents,
        currency: 'USD',
        status: s.status,
      })),
    };
  }

  /** The concert row and its seats in {@link SEAT_ORDER}: two queries. */
  async #withSeats(id: number) {
    const { rows } = await this.db.query<ConcertRow>(
      `SELECT ${CONCERT_COLUMNS} FROM concerts c WHERE c.id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return null;
    const seats = await this.db.query<{
      id: number;
      label: string;
      section: string;
      row_label: string;
      seat_number: number;
      price_cents: number;
      status: SeatStatus;
    }>(
      `SELECT id, label, section, row_label, seat_number, price_cents, status
       FROM seats WHERE concert_id = $1 ORDER BY ${SEAT_ORDER}`,
      [id],
    );
    return { row, seats: seats.rows };
  }

  /** The layout of a concert's seat map (no statuses), or null when unknown. Two queries. */
  async layout(id: number): Promise<SeatLayout | null> {
    const found = await this.#withSeats(id);
    if (!found) return null;
    const { availableCount: _, ...concert } = toConcert(found.row);
    const layout: SeatLayout = { concert, currency: 'USD', rows: [] };
    let current: SeatLayout['rows'][number] | undefined;
    for (const s of found.seats) {
      if (current?.section !== s.section || current.row !== s.row_label) {
        current = {
          section: s.section,
          row: s.row_label,
          ids: [],
          numbers: [],
          labels: [],
          prices: [],
        };
        layout.rows.push(current);
      }
      current.ids.push(s.id);
      current.numbers.push(s.seat_number);
      current.labels.push(s.label);
      current.prices.push(s.price_cents);
    }
    return layout;
  }

  /**
   * Every seat's status as one letter ({@link STATUS_CODES}) in layout order, or null when the
   * concert is unknown. One query (the seat map's status snapshot).
   */
  async statusCodes(id: number): Promise<string | null> {
    const { rows } = await this.db.query<{ codes: string | null }>(
      `SELECT (
         SELECT string_agg(CASE s.status WHEN 'AVAILABLE' THEN 'A' WHEN 'HELD' THEN 'H'
                             WHEN 'ASSIGNED' THEN 'S' ELSE 'B' END, '' ORDER BY ${SEAT_ORDER})
         FROM seats s WHERE s.concert_id = c.id
       ) AS codes
       FROM concerts c WHERE c.id = $1`,
      [id],
    );
    const row = rows[0];
    return row === undefined ? null : (row.codes ?? '');
  }
}
