// Load figures of the reference app: a flash sale of SEATS seats to USERS simulated users over HTTP,
// served by 1 and by 2 instances of the built server (examples/booking-app/dist/server.js) on one
// PostgreSQL schema and one Redis of its own. The 1-instance run is the reference the 2-instance run
// is compared with. See the README of this folder.
import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, spawnRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { PgDatabase } from '../../examples/booking-app/src/db/pg-database.js';
import {
  type Invariants,
  invariantViolations,
  readInvariants,
  settle,
} from '../../examples/booking-app/test/invariants.js';
import { start } from '../../examples/booking-app/test/server-process.js';
import { loadNote, print, type Table, writeSection } from '../lib/report.js';
import { Latencies, LoadClient } from './http-client.js';

const USERS = Number(process.env.BENCH_LOAD_USERS ?? 10_000);
const SEATS = Number(process.env.BENCH_LOAD_SEATS ?? 1_000);
/** Users arrive evenly over this many seconds (the notes: 100,000 in a minute; scaled to the machine). */
const ARRIVAL_S = Number(process.env.BENCH_LOAD_ARRIVAL_SECONDS ?? 20);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECRET = 'bench-load-secret-bench-load-secret!';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RunResult {
  instances: number;
  wallS: number;
  admitted: number;
  admittedPerS: number;
  booked: number;
  bookingsPerS: number;
  soldOutAfterS: number;
  reserveConflicts: number;
  soldOutSeen: number;
  redisCommands: number;
  latencies: Latencies;
  invariants: Invariants;
  violations: string[];
}

/** Sum of `calls=` over INFO commandstats. */
async function redisCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

async function run(instances: number): Promise<RunResult> {
  const redis = await spawnRedis({ port: await freePort() });
  const admin = new Redis(redis.url);
  const schema = `bench_load_${randomBytes(4).toString('hex')}`;
  const env = {
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_MAX: '20',
    REDIS_URL: redis.url,
    JWT_SECRET: SECRET,
    // Every simulated user comes from 127.0.0.1: no per-address brakes (per-user ones stay).
    LOGIN_RATE_LIMIT: '0',
    QUEUE_JOIN_ADDRESS_RATE_LIMIT: '0',
    QUEUE_STREAM_ADDRESS_RATE_LIMIT: '0',
    LOG_LEVEL: 'error',
    QUEUE_MAX_ACTIVE: '200',
    QUEUE_ADMIT_PER_TICK: '50',
    QUEUE_TICK_MS: '100',
    PG_LATENCY_MS: '20',
  };
  const servers = [await start(env)];
  const db = await PgDatabase.open({ url: DATABASE_URL, schema });
  const latencies = new Latencies();
  const http = new LoadClient(latencies);
  try {
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO concerts (name, venue, starts_at, sales_open_at)
       VALUES ('Load test', 'Arena', now() + interval '30 days', now() - interval '1 hour') RETURNING id`,
    );
    const concertId = Number(rows[0]?.id);
    await db.query(
      `INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
       SELECT $1, 'Floor', 'R' || (n / 50), n, 'S' || n, 5000, 'AVAILABLE' FROM generate_series(1, $2) n`,
      [concertId, SEATS],
    );
    while (servers.length < instances) servers.push(await start(env));
    const urls = servers.map((s) => s.url);
    const queuePath = `/concerts/${concertId}/queue`;
    const mapPath = `/concerts/${concertId}`;

    let admitted = 0;
    let lastAdmissionAt = 0;
    let booked = 0;
    let lastBookingAt = 0;
    let reserveConflicts = 0;
    let soldOutSeen = 0;
    const unexpected: string[] = [];
    const note = (what: string, status: number) => {
      if (unexpected.length < 20) unexpected.push(`${what} ${status}`);
    };

    const user = async (i: number) => {
      const base = urls[i % urls.length] as string;
      const login = await http.call(base, 'POST /auth/demo-login', 'POST', '/auth/demo-login', {
        body: { name: `fan${i}` },
      });
      if (login.status !== 200) return note('login', login.status);
      const token = login.body.token as string;
      let status = await http.call(base, `POST ${'/concerts/:id/queue'}`, 'POST', queuePath, {
        token,
      });
      while (status.status === 200 && status.body.state === 'waiting') {
        await sleep(Math.min(Number(status.body.pollAfterMs) || 500, 2_000));
        status = await http.call(base, 'GET /concerts/:id/queue', 'GET', queuePath, { token });
      }
      if (status.status !== 200 || status.body.state !== 'active')
        return note('queue', status.status);
      admitted++;
      lastAdmissionAt = Date.now();
      const entry = status.body.token as string;
      for (let attempt = 0; attempt < 5; attempt++) {
        const map = await http.call(base, 'GET /concerts/:id', 'GET', mapPath);
        const seats = map.body.seats as { id: number; status: string }[];
        const free = seats.filter((s) => s.status === 'AVAILABLE');
        if (free.length === 0) {
          if (seats.every((s) => s.status === 'ASSIGNED')) {
            soldOutSeen++;
            break;
          }
          await sleep(500);
          continue;
        }
        const seat = free[Math.floor(Math.random() * free.length)] as { id: number };
        const held = await http.call(
          base,
          'POST /concerts/:id/reservations',
          'POST',
          `${mapPath}/reservations`,
          {
            token: entry,
            body: { seatIds: [seat.id] },
          },
        );
        if (held.status === 409 || held.status === 400) {
          reserveConflicts++;
          continue;
        }
        if (held.status !== 201) return note('reserve', held.status);
        const paid = await http.call(base, 'POST /payments', 'POST', '/payments', {
          token: held.body.paymentToken,
          body: { reservationId: held.body.reservation.id },
          headers: { 'idempotency-key': `"${randomUUID()}"` },
        });
        if (paid.status !== 201) return note('pay', paid.status);
        booked++;
        lastBookingAt = Date.now();
        return; // paying completes the waiting room
      }
      await http.call(base, 'DELETE /concerts/:id/queue', 'DELETE', queuePath, { token });
    };

    await admin.config('RESETSTAT');
    const started = Date.now();
    await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        await sleep((i * ARRIVAL_S * 1000) / USERS);
        await user(i);
      }),
    );
    const wallS = (Date.now() - started) / 1000;
    const redisCommands = await redisCalls(admin);
    if (unexpected.length) console.warn(`unexpected statuses (first 20): ${unexpected.join(', ')}`);
    // Every user paid or left; let the consumers catch up before reading the settled invariants.
    await settle(db, 30_000);
    const invariants = await readInvariants(db);
    return {
      instances,
      wallS,
      admitted,
      admittedPerS: admitted / ((lastAdmissionAt - started) / 1000),
      booked,
      bookingsPerS: booked / ((lastBookingAt - started) / 1000),
      soldOutAfterS: (lastBookingAt - started) / 1000,
      reserveConflicts,
      soldOutSeen,
      redisCommands,
      latencies,
      invariants,
      violations: invariantViolations(invariants, { settled: true }),
    };
  } finally {
    http.close();
    for (const s of servers) s.child.kill('SIGTERM');
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await db.close();
    admin.disconnect();
    await redis.stop();
  }
}

const results: RunResult[] = [];
for (const instances of [1, 2]) {
  console.log(`running: ${USERS} users, ${SEATS} seats, ${instances} instance(s)…`);
  results.push(await run(instances));
}
const [one, two] = results as [RunResult, RunResult];

const summary: Table = {
  title: `Flash sale: ${USERS.toLocaleString('en-US')} users, ${SEATS.toLocaleString('en-US')} seats`,
  columns: ['figure', '1 instance (reference)', '2 instances', '2 ÷ 1'],
  rows: [
    ['admitted users', one.admitted, two.admitted, two.admitted / one.admitted],
    ['admitted / s', one.admittedPerS, two.admittedPerS, two.admittedPerS / one.admittedPerS],
    ['seats sold (paid)', one.booked, two.booked, two.booked / one.booked],
    [
      'bookings / s (until sold out)',
      one.bookingsPerS,
      two.bookingsPerS,
      two.bookingsPerS / one.bookingsPerS,
    ],
    [
      'sold out after (s)',
      one.soldOutAfterS,
      two.soldOutAfterS,
      two.soldOutAfterS / one.soldOutAfterS,
    ],
    ['reservation conflicts (409/400)', one.reserveConflicts, two.reserveConflicts, '—'],
    ['users who saw "sold out"', one.soldOutSeen, two.soldOutSeen, '—'],
    [
      'Redis commands per sold seat',
      one.redisCommands / one.booked,
      two.redisCommands / two.booked,
      two.redisCommands / two.booked / (one.redisCommands / one.booked),
    ],
    ['wall time (s)', one.wallS, two.wallS, two.wallS / one.wallS],
    ['invariants', one.violations.join('; ') || 'hold', two.violations.join('; ') || 'hold', '—'],
  ],
  notes: [
    `Users arrive evenly over ${ARRIVAL_S} s; waiting room: 200 active, 50 admitted per 100 ms tick; mock gateway latency 20 ms, no failures.`,
    'Invariants (read from PostgreSQL once the run settled, the same SQL as the chaos tests): no seat in two live reservations, every ASSIGNED seat in exactly one CONFIRMED reservation and back, one gateway charge per SUCCEEDED payment and none without a seat, no reservation paid twice, no hold or payment left pending, each payment.succeeded consumed exactly once per consumer.',
    'Redis commands: INFO commandstats over the whole run (every request, queue tick, BullMQ worker poll) divided by seats sold.',
  ],
};
const latencyTable: Table = {
  title: 'Latency per endpoint, ms (client side, keep-alive, 256 sockets)',
  columns: ['endpoint', 'requests (1)', 'p50 (1)', 'p99 (1)', 'requests (2)', 'p50 (2)', 'p99 (2)'],
  rows: one.latencies.summary().map(([label, n, p50, p99]) => {
    const other = two.latencies.summary().find((row) => row[0] === label);
    return [label, n, p50, p99, other?.[1] ?? 0, other?.[2] ?? 0, other?.[3] ?? 0];
  }),
};
print(summary);
print(latencyTable);
writeSection(
  'load',
  'Load: the reference app under a flash sale',
  [summary, latencyTable],
  [
    'Everything on one machine: the load generator, both app processes, Redis and PostgreSQL share its cores, so the 2-instance run measures correctness under two processes more than scaling.',
    loadNote(),
  ],
);
if (one.violations.length || two.violations.length) process.exitCode = 1;
