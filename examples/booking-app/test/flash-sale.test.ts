import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { SeatHolds } from '@boxoffice/seat-lock/holds';
import { afterEach, describe, expect, it } from 'vitest';
import { type AppLocals, createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { MockPaymentGateway } from '../src/concerts/payments/mock-payment-gateway.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, count, dbBackends, listen, useDatabase, waitFor } from './helpers.js';

const SECRET = 'flash-sale-secret-flash-sale-secret!';
const USERS = 2_000;
const SEATS = 100;
const IN_FLIGHT = 150;
const PAY_SHARE = 0.7;
const REPLAY_SHARE = 0.2;
const HOLD_TTL_MS = 2_500;
const HOLD_GRACE_MS = 500;

const postgres = dbBackends.find((b) => b.name === 'postgres') as (typeof dbBackends)[number];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `task(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const newFigures = () => ({
  users: USERS,
  admitted: 0,
  /** Told `soldOut` when joining or in line: they stop and send nothing, as the page does. */
  soldOutWhileWaiting: 0,
  soldOutSeen: 0,
  gaveUp: 0,
  reserveAttempts: 0,
  reserve201: 0,
  reserve409: 0,
  reserve400: 0,
  reserveOther: 0,
  paymentsSent: 0,
  pay201: 0,
  pay202: 0,
  pay402: 0,
  pay409: 0,
  /** The first payment was read after the token expired: 401 `token-expired` (checked by time). */
  payAfterExpiry: 0,
  payOther: 0,
  replays: 0,
  replayedHeader: 0,
  leftUnpaid: 0,
  replaysAfterExpiry: 0,
});

/** A JWT's `exp` claim (seconds), read without verifying: the server verifies. */
const tokenExpiry = (jwt: string) =>
  Number(JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).exp);

// On the standalone Redis and on the 3-master Cluster (no resharding or failover during the run).
describe.each(redisTargets())(
  'flash sale: 2,000 users for 100 seats (postgres + $name redis)',
  (target) => {
    const fixture = useDatabase(postgres);
    const redis = useRedis(target);
    const opened: { close(): Promise<unknown> }[] = [];

    afterEach(async () => {
      for (const o of opened.splice(0).reverse()) await o.close();
    });

    it('sells exactly the 100 seats, each once, each charged once; every other hold ends', async () => {
      const started = Date.now();
      const figures = newFigures();
      const db = fixture.db;
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO concerts (name, venue, starts_at, sales_open_at)
       VALUES ('Flash sale', 'Arena', now() + interval '30 days', now() - interval '1 hour')
       RETURNING id`,
      );
      const concertId = (rows[0] as { id: number }).id;
      await db.query(
        `INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
       SELECT $1, 'Floor', 'A', n, 'A' || n, 5000, 'AVAILABLE' FROM generate_series(1, $2) AS n`,
        [concertId, SEATS],
      );

      const client = redis.connect();
      const logger = createLogger('silent');
      const rooms = new ConcertRooms(client, {
        secret: SECRET,
        prefix: redis.prefix,
        settings: {
          maxActive: 200,
          admitPerTick: 200,
          tickMs: 50,
          heartbeatTimeoutMs: 30_000,
          activeTtlMs: 120_000,
          graceMs: 1_000,
        },
        logger,
      });
      const holds = new SeatHolds(client, {
        prefix: redis.prefix,
        ttlMs: HOLD_TTL_MS,
        graceMs: HOLD_GRACE_MS,
      });
      // Declines and timeouts (some charged on the PG side anyway) exercise the retry worker too.
      const gateway = new MockPaymentGateway(db, {
        latencyMs: 5,
        timeoutMs: 200,
        failureRate: 0.05,
        timeoutRate: 0.05,
        chargedOnTimeoutRate: 0.5,
      });
      const app = createApp({
        db,
        redis: client,
        auth: new DemoAuth({ secret: SECRET }),
        rooms,
        holds,
        paymentGateway: gateway,
        paymentRetries: { retryDelayMs: 100 },
        metrics: new AppMetrics({ defaultMetrics: false }),
        logger,
        redisPrefix: redis.prefix,
        // 2,000 users from one address (127.0.0.1): no per-address brakes (per-user ones stay).
        loginRateLimit: 0,
        queueRateLimits: { joinPerAddress: 0, streamPerAddress: 0 },
      });
      const locals = app.locals as AppLocals;
      locals.startWorkers();
      const http = await listen(app);
      opened.push({ close: () => holds.close() }, { close: () => rooms.close() }, locals, http);
      const base = http.base;
      const paid201 = new Set<string>();
      const refusedLate = new Set<string>();

      const user = async (i: number) => {
        const login = await call(base, 'POST', '/auth/demo-login', { body: { name: `fan${i}` } });
        expect(login.status).toBe(200);
        const token = login.body.token as string;
        let status = await call(base, 'POST', `/concerts/${concertId}/queue`, { token });
        expect(status.status).toBe(200);
        const admitDeadline = Date.now() + 60_000;
        while (status.body.state === 'waiting' || status.body.soldOut === true) {
          if (status.body.soldOut === true) {
            // As the page does: stop, send nothing (a join after the sell-out is not in line).
            figures.soldOutWhileWaiting++;
            return;
          }
          if (Date.now() > admitDeadline) throw new Error(`fan${i} never admitted`);
          await sleep(Math.min(Number(status.body.pollAfterMs) || 100, 200));
          status = await call(base, 'GET', `/concerts/${concertId}/queue`, { token });
          expect(status.status).toBe(200);
        }
        expect(status.body.state).toBe('active');
        figures.admitted++;
        const entry = status.body.token as string;

        let reservation: { id: string } | undefined;
        let paymentToken = '';
        let soldOut = false;
        for (let attempt = 0; attempt < 60 && !reservation; attempt++) {
          const map = await call(base, 'GET', `/concerts/${concertId}`);
          const seats = map.body.seats as { id: number; status: string }[];
          const free = seats.filter((s) => s.status === 'AVAILABLE');
          if (free.length === 0) {
            if (seats.every((s) => s.status === 'ASSIGNED')) {
              figures.soldOutSeen++;
              soldOut = true;
              break;
            }
            await sleep(250); // all taken but some only held: they may expire
            continue;
          }
          const want = Math.min(free.length, 1 + Math.floor(Math.random() * 2));
          const picked = new Set<number>();
          while (picked.size < want) {
            picked.add((free[Math.floor(Math.random() * free.length)] as { id: number }).id);
          }
          figures.reserveAttempts++;
          const res = await call(base, 'POST', `/concerts/${concertId}/reservations`, {
            token: entry,
            body: { seatIds: [...picked] },
          });
          if (res.status === 201) {
            figures.reserve201++;
            reservation = res.body.reservation;
            paymentToken = res.body.paymentToken;
          } else if (res.status === 409) figures.reserve409++;
          else if (res.status === 400) figures.reserve400++;
          else {
            figures.reserveOther++;
            throw new Error(`reserve: unexpected ${res.status} ${JSON.stringify(res.body)}`);
          }
        }
        if (!reservation) {
          if (!soldOut) figures.gaveUp++;
          await call(base, 'DELETE', `/concerts/${concertId}/queue`, { token });
          return;
        }
        if (Math.random() >= PAY_SHARE) {
          figures.leftUnpaid++;
          await call(base, 'DELETE', `/concerts/${concertId}/queue`, { token });
          return;
        }
        const key = `"${crypto.randomUUID()}"`;
        const pay = () =>
          call(base, 'POST', '/payments', {
            token: paymentToken,
            headers: { 'Idempotency-Key': key },
            body: { reservationId: reservation.id },
          });
        figures.paymentsSent++;
        const expiresAt = tokenExpiry(paymentToken) * 1000;
        const first = await pay();
        if (
          first.status === 401 &&
          first.body.code === 'token-expired' &&
          Date.now() >= expiresAt
        ) {
          // Sent inside the hold, read by the server after it (and its token) ended: the server
          // accepts one new connection per event-loop iteration (libuv ≥ 1.45), so during the
          // ramp a request on a fresh connection can wait seconds. The hold ends unpaid.
          figures.payAfterExpiry++;
          refusedLate.add(reservation.id);
          await call(base, 'DELETE', `/concerts/${concertId}/queue`, { token });
          return;
        }
        if (first.status === 201) {
          figures.pay201++;
          expect(first.body.payment.status).toBe('SUCCEEDED');
          paid201.add(reservation.id);
        } else if (first.status === 202) figures.pay202++;
        else if (first.status === 402) figures.pay402++;
        else if (first.status === 409) figures.pay409++;
        else {
          figures.payOther++;
          throw new Error(`pay: unexpected ${first.status} ${JSON.stringify(first.body)}`);
        }
        if (Math.random() < REPLAY_SHARE) {
          figures.replays++;
          const sentAt = Date.now();
          const again = await pay();
          // The payment token lives as long as the hold (2.5 s here): a replay that reaches the
          // server after it expired is refused by authentication before the idempotency layer.
          const expired = sentAt >= expiresAt || (Date.now() >= expiresAt && again.status === 401);
          if (expired) {
            expect(again.status).toBe(401);
            figures.replaysAfterExpiry++;
          } else {
            expect(again.status).toBe(first.status);
            if (again.headers.get('idempotent-replayed') === 'true') figures.replayedHeader++;
            if (first.status === 201) {
              expect(again.headers.get('idempotent-replayed')).toBe('true');
              expect(again.body.payment.id).toBe(first.body.payment.id);
            }
          }
        }
        if (first.status !== 201)
          await call(base, 'DELETE', `/concerts/${concertId}/queue`, { token });
      };

      await pool(USERS, IN_FLIGHT, user);
      const usersDoneMs = Date.now() - started;

      // Every hold ends (paid or expired) and every payment settles, then the books must balance.
      await waitFor(
        () =>
          count(
            db,
            `SELECT (SELECT count(*) FROM reservations WHERE status = 'HELD')
                + (SELECT count(*) FROM seats WHERE status = 'HELD')
                + (SELECT count(*) FROM payments
                   WHERE status IN ('STARTED', 'PG_REQUESTED', 'RETRY_SCHEDULED'))`,
          ),
        (n) => n === 0,
        30_000,
      );

      const assigned = await count(db, `SELECT count(*) FROM seats WHERE status = 'ASSIGNED'`);
      const confirmed = await count(
        db,
        `SELECT count(*) FROM reservations WHERE status = 'CONFIRMED'`,
      );
      const seatsInConfirmed = await count(
        db,
        `SELECT count(*) FROM reservation_seats rs
       JOIN reservations r ON r.id = rs.reservation_id AND r.status = 'CONFIRMED'
       JOIN seats s ON s.id = rs.seat_id AND s.status = 'ASSIGNED' AND s.reservation_id = r.id`,
      );
      const seatsInTwoConfirmed = await count(
        db,
        `SELECT count(*) FROM (SELECT rs.seat_id FROM reservation_seats rs
         JOIN reservations r ON r.id = rs.reservation_id AND r.status = 'CONFIRMED'
         GROUP BY rs.seat_id HAVING count(*) > 1) x`,
      );
      const succeeded = await count(db, `SELECT count(*) FROM payments WHERE status = 'SUCCEEDED'`);
      const succeededNotChargedOnce = await count(
        db,
        `SELECT count(*) FROM payments p WHERE p.status = 'SUCCEEDED' AND 1 <> (
         SELECT count(*) FROM mock_pg_charges c
         WHERE c.status = 'CAPTURED' AND c.idempotency_key = p.user_id || ':' || p.idempotency_key)`,
      );
      const reservationsChargedTwice = await count(
        db,
        `SELECT count(*) FROM (SELECT reference FROM mock_pg_charges WHERE status = 'CAPTURED'
         GROUP BY reference HAVING count(*) > 1) x`,
      );
      const confirmedWithoutOneSuccess = await count(
        db,
        `SELECT count(*) FROM reservations r WHERE r.status = 'CONFIRMED' AND 1 <> (
         SELECT count(*) FROM payments p WHERE p.reservation_id = r.id AND p.status = 'SUCCEEDED')`,
      );
      const capturedNotConfirmed = await count(
        db,
        `SELECT count(*) FROM mock_pg_charges c WHERE c.status = 'CAPTURED' AND NOT EXISTS (
         SELECT 1 FROM reservations r WHERE r.id::text = c.reference AND r.status = 'CONFIRMED')`,
      );
      const notEnded = await count(
        db,
        `SELECT count(*) FROM reservations WHERE status NOT IN ('CONFIRMED', 'EXPIRED', 'CANCELLED')`,
      );
      const expired = await count(db, `SELECT count(*) FROM reservations WHERE status = 'EXPIRED'`);
      const cancelled = await count(
        db,
        `SELECT count(*) FROM reservations WHERE status = 'CANCELLED'`,
      );
      const reservationsTotal = await count(db, 'SELECT count(*) FROM reservations');
      const wallMs = Date.now() - started;

      console.log(
        [
          `flash sale figures (${target.name} redis):`,
          `  users ${figures.users}, admitted ${figures.admitted}, told sold out while waiting ${figures.soldOutWhileWaiting}, saw sold out ${figures.soldOutSeen}, gave up ${figures.gaveUp}`,
          `  reservations attempted ${figures.reserveAttempts}: 201 ${figures.reserve201}, 409 ${figures.reserve409}, 400 ${figures.reserve400}`,
          `  left unpaid ${figures.leftUnpaid}; payments sent ${figures.paymentsSent}: 201 ${figures.pay201}, 202 ${figures.pay202}, 402 ${figures.pay402}, 409 ${figures.pay409}, 401 after the token expired ${figures.payAfterExpiry}`,
          `  replays sent ${figures.replays} (Idempotent-Replayed: true on ${figures.replayedHeader}, 401 after the token expired ${figures.replaysAfterExpiry})`,
          `  DB: reservations ${reservationsTotal}, confirmed ${confirmed}, expired ${expired}, cancelled ${cancelled}; seats assigned ${assigned}/${SEATS}`,
          `  payments succeeded ${succeeded}; captured charges without a confirmed reservation ${capturedNotConfirmed}`,
          `  wall time ${(wallMs / 1000).toFixed(1)} s (users done after ${(usersDoneMs / 1000).toFixed(1)} s)`,
        ].join('\n'),
      );

      // Every user was either admitted or told, while waiting, that nothing is left.
      expect(figures.admitted + figures.soldOutWhileWaiting).toBe(USERS);
      expect(assigned).toBe(SEATS);
      expect(seatsInConfirmed).toBe(SEATS);
      expect(seatsInTwoConfirmed).toBe(0);
      expect(succeeded).toBe(confirmed);
      expect(confirmedWithoutOneSuccess).toBe(0);
      expect(succeededNotChargedOnce).toBe(0);
      expect(reservationsChargedTwice).toBe(0);
      expect(notEnded).toBe(0);
      expect(expired + cancelled + confirmed).toBe(reservationsTotal);
      expect(figures.reserve201).toBe(reservationsTotal);
      // A payment refused by authentication left no trace: no payment row, the hold ended unpaid.
      for (const id of refusedLate) {
        expect(
          await count(
            db,
            `SELECT (SELECT count(*) FROM payments WHERE reservation_id = $1)
                + (SELECT count(*) FROM reservations WHERE id = $1 AND status = 'CONFIRMED')`,
            [id],
          ),
        ).toBe(0);
      }
      for (const id of paid201) {
        expect(
          await count(
            db,
            `SELECT count(*) FROM reservations WHERE id = $1 AND status = 'CONFIRMED'`,
            [id],
          ),
        ).toBe(1);
      }
    }, 150_000);
  },
);
