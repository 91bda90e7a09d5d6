import type { PgDatabase } from '../../examples/booking-app/src/db/pg-database.js';

/** A concert on sale (opened an hour ago) with `seats` AVAILABLE seats of 50 $; its id. */
export async function insertConcert(db: PgDatabase, name: string, seats: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO concerts (name, venue, starts_at, sales_open_at)
     VALUES ($1, 'Arena', now() + interval '30 days', now() - interval '1 hour') RETURNING id`,
    [name],
  );
  const concertId = Number(rows[0]?.id);
  await db.query(
    `INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
     SELECT $1, 'Floor', 'R' || (n / 50), n, 'S' || n, 5000, 'AVAILABLE' FROM generate_series(1, $2) n`,
    [concertId, seats],
  );
  return concertId;
}
