import type { Database } from '../db/database.js';

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
  constructor(private readonly db: Database) {}

  /** Every concert, soonest first, with seat counts. */
  async list(): Promise<Concert[]> {
    const { rows } = await this.db.query<ConcertRow>(
      `SELECT ${CONCERT_COLUMNS} FROM concerts c ORDER BY c.starts_at, c.id`,
    );
    return rows.map(toConcert);
  }

  /** True if the concert exists. */
  async exists(id: number): Promise<boolean> {
    const { rows } = await this.db.query('SELECT 1 FROM concerts WHERE id = $1', [id]);
    return rows.length > 0;
  }

  /**
   * Whether a concert is sold out — no seat AVAILABLE or HELD (a held seat may come back), which is
   * final since an ASSIGNED seat never returns — or `null` when there is no such concert. One
   * query, an index probe on (concert_id, status): cheap enough for every waiting-room poll.
   */
  async saleState(id: number): Promise<{ soldOut: boolean } | null> {
    const { rows } = await this.db.query<{ sold_out: boolean }>(
      `SELECT NOT EXISTS (
         SELECT 1 FROM seats s WHERE s.concert_id = c.id AND s.status IN ('AVAILABLE', 'HELD')
       ) AS sold_out
       FROM concerts c WHERE c.id = $1`,
      [id],
    );
    const row = rows[0];
    return row === undefined ? null : { soldOut: row.sold_out };
  }

  /** One concert and its seat map ordered by row and number, or null when unknown. */
  async get(id: number): Promise<{ concert: Concert; seats: Seat[] } | null> {
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
       FROM seats WHERE concert_id = $1 ORDER BY row_label, seat_number`,
      [id],
    );
    return {
      concert: toConcert(row),
      seats: seats.rows.map((s) => ({
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
}
