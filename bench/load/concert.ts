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

/**
 * Hold every seat of the concert with one placeholder reservation (the room pauses: nothing is
 * AVAILABLE); resolves with the function that releases them all at once (the sale starts).
 */
export async function holdEverySeat(
  db: PgDatabase,
  concertId: number,
): Promise<() => Promise<void>> {
  const holder = await db.query<{ id: number }>(
    `INSERT INTO users (name) VALUES ('bench-placeholder') RETURNING id`,
  );
  const reservation = await db.query<{ id: string }>(
    `INSERT INTO reservations (user_id, concert_id, hold_id, fence, amount_cents, expires_at)
     VALUES ($1, $2, 'bench-placeholder', 1, 0, now() + interval '1 hour') RETURNING id`,
    [holder.rows[0]?.id, concertId],
  );
  const id = reservation.rows[0]?.id;
  await db.query(`UPDATE seats SET status = 'HELD', reservation_id = $1 WHERE concert_id = $2`, [
    id,
    concertId,
  ]);
  return async () => {
    await db.query(
      `UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL WHERE reservation_id = $1`,
      [id],
    );
    await db.query(`UPDATE reservations SET status = 'CANCELLED' WHERE id = $1`, [id]);
  };
}
