// What one request of each step of a booking costs the app: app CPU (user + system of the server
// process, /proc) and Redis commands (INFO commandstats) per request, with requests/s and latency,
// measured step by step against one dist/server.js (a PostgreSQL schema and a redis-server of its
// own). Background work that runs during a step (queue ticks, BullMQ workers, the outbox relay and
// the consumers a payment triggers) is counted with it; an idle window of the same length is
// measured first and reported beside it. See the README of this folder.
import { randomBytes, randomUUID } from 'node:crypto';
import { freePort, spawnRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { PgDatabase } from '../../examples/booking-app/src/db/pg-database.js';
import { start, stopped } from '../../examples/booking-app/test/server-process.js';
import { loadNote, print, type Table, writeSection } from '../lib/report.js';
import { insertConcert } from './concert.js';
import { Latencies, LoadClient, type Reply } from './http-client.js';
import { cpuSeconds, redisCallsByCommand, topCommands, totalCalls } from './process-stats.js';

const USERS = Number(process.env.BENCH_ENDPOINTS_USERS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_ENDPOINTS_CONCURRENCY ?? 50);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** A folder: the app process writes a V8 CPU profile there (`--cpu-prof`) when it stops. */
const CPU_PROF_DIR = process.env.BENCH_ENDPOINTS_CPU_PROF;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `fn(i)` for i in [0, n) with at most `limit` at once. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const redis = await spawnRedis({ port: await freePort() });
const admin = new Redis(redis.url);
const schema = `bench_endpoints_${randomBytes(4).toString('hex')}`;
const server = await start(
  {
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_MAX: '20',
    REDIS_URL: redis.url,
    JWT_SECRET: 'bench-endpoints-secret-bench-endpoints!',
    LOGIN_RATE_LIMIT: '0',
    QUEUE_JOIN_ADDRESS_RATE_LIMIT: '0',
    QUEUE_STREAM_ADDRESS_RATE_LIMIT: '0',
    LOG_LEVEL: 'error',
    QUEUE_MAX_ACTIVE: String(USERS),
    QUEUE_ADMIT_PER_TICK: String(USERS),
    QUEUE_TICK_MS: '100',
    PG_LATENCY_MS: '20',
  },
  { nodeArgs: CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] : [] },
);
const db = await PgDatabase.open({ url: DATABASE_URL, schema });
const latencies = new Latencies();
const http = new LoadClient(latencies);
const rows: (string | number)[][] = [];
try {
  const concertId = await insertConcert(db, 'Endpoints', USERS);
  const { rows: seatRows } = await db.query<{ id: number }>(
    'SELECT id FROM seats WHERE concert_id = $1 ORDER BY id',
    [concertId],
  );
  const base = server.url;
  const queue = `/concerts/${concertId}/queue`;
  const users: { token: string; entry: string; reservation: string; paymentToken: string }[] =
    Array.from({ length: USERS }, () => ({
      token: '',
      entry: '',
      reservation: '',
      paymentToken: '',
    }));

  /** Measure one step: `send(i)` for every user, `CONCURRENCY` at a time. */
  const step = async (name: string, send: (i: number) => Promise<Reply | undefined>) => {
    await sleep(500); // let the previous step's background work finish
    const [cpu0, byCommand0, t0] = [
      cpuSeconds(server.child.pid),
      await redisCallsByCommand(admin),
      Date.now(),
    ];
    const statuses = new Map<number, number>();
    await pool(USERS, CONCURRENCY, async (i) => {
      const reply = await send(i);
      if (reply) statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    });
    const seconds = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(server.child.pid) - cpu0;
    const byCommand = await redisCallsByCommand(admin);
    const commands = totalCalls(byCommand) - totalCalls(byCommand0) - 1; // minus the INFO itself
    const found = latencies.summary().find(([label]) => label === name);
    rows.push([
      name,
      USERS / seconds,
      (cpu * 1e6) / USERS,
      commands / USERS,
      found?.[2] ?? 0,
      found?.[3] ?? 0,
      [...statuses].map(([status, n]) => `${status}×${n}`).join(' '),
      topCommands(byCommand0, byCommand, USERS),
    ]);
  };

  // The idle cost of the same machinery (ticks, workers) over a window as long as a typical step.
  {
    const [cpu0, byCommand0] = [cpuSeconds(server.child.pid), await redisCallsByCommand(admin)];
    await sleep(5_000);
    const cpu = cpuSeconds(server.child.pid) - cpu0;
    const byCommand = await redisCallsByCommand(admin);
    const commands = totalCalls(byCommand) - totalCalls(byCommand0) - 1;
    const top = topCommands(byCommand0, byCommand, 5);
    rows.push(['(idle, per second)', '—', (cpu * 1e6) / 5, commands / 5, '—', '—', '—', top]);
  }
  await step('POST /auth/demo-login', async (i) => {
    const r = await http.call(base, 'POST /auth/demo-login', 'POST', '/auth/demo-login', {
      body: { name: `ep${i}` },
    });
    (users[i] as { token: string }).token = r.body.token;
    return r;
  });
  await step('POST /concerts/:id/queue', (i) =>
    http.call(base, 'POST /concerts/:id/queue', 'POST', queue, { token: users[i]?.token }),
  );
  await sleep(1_000); // admitted at the next ticks (maxActive = USERS)
  await step('GET /concerts/:id/queue', async (i) => {
    const r = await http.call(base, 'GET /concerts/:id/queue', 'GET', queue, {
      token: users[i]?.token,
    });
    (users[i] as { entry: string }).entry = r.body.token;
    return r;
  });
  await step('POST /concerts/:id/queue/stream-token', (i) =>
    http.call(base, 'POST /concerts/:id/queue/stream-token', 'POST', `${queue}/stream-token`, {
      token: users[i]?.token,
    }),
  );
  await step('GET /concerts/:id/seats/status', (i) =>
    http.call(
      base,
      'GET /concerts/:id/seats/status',
      'GET',
      `/concerts/${concertId}/seats/status`,
      {
        token: users[i]?.token,
      },
    ),
  );
  await step('POST /concerts/:id/reservations', async (i) => {
    const r = await http.call(
      base,
      'POST /concerts/:id/reservations',
      'POST',
      `/concerts/${concertId}/reservations`,
      { token: users[i]?.entry, body: { seatIds: [seatRows[i]?.id] } },
    );
    const u = users[i] as { reservation: string; paymentToken: string };
    u.reservation = r.body.reservation?.id;
    u.paymentToken = r.body.paymentToken;
    return r;
  });
  await step('POST /payments', (i) =>
    http.call(base, 'POST /payments', 'POST', '/payments', {
      token: users[i]?.paymentToken,
      body: { reservationId: users[i]?.reservation },
      headers: { 'idempotency-key': `"${randomUUID()}"` },
    }),
  );
} finally {
  http.close();
  server.child.kill('SIGTERM');
  await stopped(server.child);
  await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
  await db.close();
  admin.disconnect();
  await redis.stop();
}

const table: Table = {
  title: `Cost per request of each booking step (${USERS.toLocaleString('en-US')} users, ${CONCURRENCY} at a time, one instance)`,
  columns: [
    'step',
    'requests/s',
    'app CPU µs / request',
    'Redis commands / request',
    'p50 ms',
    'p99 ms',
    'statuses',
    'top Redis commands / request',
  ],
  rows,
  notes: [
    'App CPU: user + system time of the server process (/proc) over the step, divided by its requests; background work during the step (queue ticks, BullMQ workers, the outbox relay and the consumers a payment triggers) is included — the idle row shows that machinery alone per second.',
    'Redis commands: INFO commandstats over the step, divided by its requests (same inclusion). Mock gateway latency 20 ms.',
  ],
};
print(table);
writeSection('endpoints', 'Load: cost per request of each booking step', [table], [loadNote()]);
