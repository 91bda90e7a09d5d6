import type { Database } from '../src/db/database.js';

// No test helpers imported: the load benchmark (bench/load) reads the same invariants outside vitest.
const count = async (db: Database, sql: string) =>
  Number((await db.query<{ n: number }>(`SELECT (${sql})::int AS n`)).rows[0]?.n);

/** The booking invariants every run must end with, read straight from the database. */
export interface BookingInvariants {
  /** Seats in more than one HELD/CONFIRMED reservation (must be 0). */
  seatsInTwoLiveReservations: number;
  /** ASSIGNED seats that are not in exactly one CONFIRMED reservation (must be 0). */
  assignedWithoutConfirmed: number;
  /** Seats of CONFIRMED reservations that are not ASSIGNED (must be 0). */
  confirmedNotAssigned: number;
  /** SUCCEEDED payments, and the mock gateway's CAPTURED charges (must be equal). */
  succeededPayments: number;
  capturedCharges: number;
  /** Reservations with more than one SUCCEEDED payment (must be 0). */
  reservationsPaidTwice: number;
}

/** Read {@link BookingInvariants} over every concert in `db`. */
export async function readInvariants(db: Database): Promise<BookingInvariants> {
  return {
    seatsInTwoLiveReservations: await count(
      db,
      `SELECT count(*) FROM (SELECT rs.seat_id FROM reservation_seats rs
         JOIN reservations r ON r.id = rs.reservation_id
        WHERE r.status IN ('HELD', 'CONFIRMED') GROUP BY rs.seat_id HAVING count(*) > 1) t`,
    ),
    assignedWithoutConfirmed: await count(
      db,
      `SELECT count(*) FROM seats s WHERE s.status = 'ASSIGNED' AND 1 <> (
         SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
          WHERE rs.seat_id = s.id AND r.status = 'CONFIRMED')`,
    ),
    confirmedNotAssigned: await count(
      db,
      `SELECT count(*) FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         JOIN seats s ON s.id = rs.seat_id WHERE r.status = 'CONFIRMED' AND s.status <> 'ASSIGNED'`,
    ),
    succeededPayments: await count(db, `SELECT count(*) FROM payments WHERE status = 'SUCCEEDED'`),
    capturedCharges: await count(
      db,
      `SELECT count(*) FROM mock_pg_charges WHERE status = 'CAPTURED'`,
    ),
    reservationsPaidTwice: await count(
      db,
      `SELECT count(*) FROM (SELECT reservation_id FROM payments WHERE status = 'SUCCEEDED'
        GROUP BY reservation_id HAVING count(*) > 1) t`,
    ),
  };
}

/**
 * What is wrong with `i`: one line per broken invariant, empty when the books balance. Tests assert
 * `expect(invariantViolations(i)).toEqual([])`; the load benchmark prints it.
 */
export function invariantViolations(i: BookingInvariants): string[] {
  const problems: string[] = [];
  if (i.seatsInTwoLiveReservations)
    problems.push(`${i.seatsInTwoLiveReservations} seats in two live reservations`);
  if (i.assignedWithoutConfirmed)
    problems.push(`${i.assignedWithoutConfirmed} ASSIGNED seats without one CONFIRMED reservation`);
  if (i.confirmedNotAssigned)
    problems.push(`${i.confirmedNotAssigned} seats of CONFIRMED reservations not ASSIGNED`);
  if (i.reservationsPaidTwice) problems.push(`${i.reservationsPaidTwice} reservations paid twice`);
  if (i.capturedCharges !== i.succeededPayments)
    problems.push(
      `${i.capturedCharges} gateway charges for ${i.succeededPayments} SUCCEEDED payments`,
    );
  return problems;
}
