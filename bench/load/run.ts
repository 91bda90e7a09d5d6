// Load figures of the reference app: a flash sale of SEATS seats to USERS simulated users over HTTP,
// served by 1 and by 2 instances of the built server (examples/booking-app/dist/server.js) on one
// PostgreSQL schema and one Redis of its own. The 1-instance run is the reference the 2-instance run
// is compared with. See the README of this folder.
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { freePort, spawnRedis } from '@boxoffice/local-redis';
import { Redis } from 'ioredis';
import { PgDatabase } from '../../examples/booking-app/src/db/pg-database.js';
import {
  invariantViolations,
  readInvariants,
  settle,
} from '../../examples/booking-app/test/invariants.js';
import { start, stopped } from '../../examples/booking-app/test/server-process.js';
import { loadNote, print, writeSection } from '../lib/report.js';
import { holdEverySeat, insertConcert } from './concert.js';
import { Latencies, LoadClient, type Reply, StreamClient } from './http-client.js';
import { loadTables, type RunPlan, type RunResult } from './load-report.js';
import {
  type CoresUsed,
  type CpuReading,
  cpuBetween,
  cpuSeconds,
  listenOverflows,
  readCpu,
  redisCalls,
} from './process-stats.js';
import { RedisMonitor } from './redis-families.js';
import {
  ADMIT_PER_TICK,
  ARRIVAL_S,
  DATABASE_URL,
  HEARTBEAT_TIMEOUT_MS,
  LAYOUT,
  MAX_ACTIVE,
  nodeArgs,
  OPEN,
  RUNS,
  SEATS,
  SECRET,
  SOURCE_ADDRESSES,
  STREAM_PROCESSES,
  USERS,
  WAIT_S,
} from './settings.js';
import { StreamHosts } from './stream-hosts.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run({ instances, workers, waiters }: RunPlan): Promise<RunResult> {
  const redis = await spawnRedis({ port: await freePort() });
  const admin = new Redis(redis.url);
  const monitor = RedisMonitor.start(redis.url, `${instances}w${workers}-${waiters}`);
  const schema = `bench_load_${randomBytes(4).toString('hex')}`;
  const appProcesses = instances * Math.max(1, workers);
  const env = {
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    // PostgreSQL here allows 100 connections: 20 per app process for one or two, 40 in all beyond.
    DATABASE_POOL_MAX: String(appProcesses <= 2 ? 20 : Math.max(4, Math.floor(40 / appProcesses))),
    REDIS_URL: redis.url,
    JWT_SECRET: SECRET,
    // Every simulated user comes from 127.0.0.1: no per-address brakes (per-user ones stay).
    LOGIN_RATE_LIMIT: '0',
    QUEUE_JOIN_ADDRESS_RATE_LIMIT: '0',
    QUEUE_STREAM_ADDRESS_RATE_LIMIT: '0',
    LOG_LEVEL: 'error',
    QUEUE_MAX_ACTIVE: String(MAX_ACTIVE),
    QUEUE_ADMIT_PER_TICK: String(ADMIT_PER_TICK),
    QUEUE_TICK_MS: '100',
    ...(HEARTBEAT_TIMEOUT_MS ? { QUEUE_HEARTBEAT_TIMEOUT_MS: HEARTBEAT_TIMEOUT_MS } : {}),
    PG_LATENCY_MS: '20',
    HTTP_WORKERS: String(workers),
  };
  const servers = [await start(env, { nodeArgs })];
  const db = await PgDatabase.open({ url: DATABASE_URL, schema });
  const latencies = new Latencies();
  const http = new LoadClient(latencies);
  const streams =
    STREAM_PROCESSES > 0
      ? new StreamHosts(latencies, SOURCE_ADDRESSES, STREAM_PROCESSES)
      : new StreamClient(latencies, SOURCE_ADDRESSES);
  const hostsCpu = () => (streams instanceof StreamHosts ? streams.cpuSeconds() : 0);
  try {
    const concertId = await insertConcert(db, 'Load test', SEATS);
    const release = WAIT_S > 0 ? await holdEverySeat(db, concertId) : undefined;
    while (servers.length < instances) servers.push(await start(env, { nodeArgs }));
    const urls = servers.map((s) => s.url);
    const queuePath = `/concerts/${concertId}/queue`;
    const mapPath = `/concerts/${concertId}`;

    let admitted = 0;
    let lastAdmissionAt = 0;
    let booked = 0;
    let lastBookingAt = 0;
    /** INFO commandstats' total when the last seat was paid for (the sale phase ends there). */
    let saleRedisAtEnd: Promise<number> | undefined;
    /** What each part of the machine had used when the sale started and ended; the arrival's cores. */
    let [saleCpuAtStart, saleCpuAtEnd]: (CpuReading | undefined)[] = [];
    let arrivalCpu: CoresUsed | undefined;
    let reserveConflicts = 0;
    let soldOutSeen = 0;
    let evictedSeen = 0;
    /** Users whose arrival is over: joined (whatever the answer), or stopped before the join. */
    let arrived = 0;
    let inLine = 0;
    let waitingMs = 0;
    const unexpected: string[] = [];
    const note = (what: string, status: number | Reply) => {
      const shown =
        typeof status === 'number'
          ? status
          : `${status.status}${status.error ? ` ${status.error}` : ''}`;
      if (unexpected.length < 20) unexpected.push(`${what} ${shown}`);
    };

    /** Poll at the server's pace until admitted, sold out or refused. */
    const poll = async (base: string, token: string, first: Reply): Promise<Reply> => {
      let status = first;
      while (status.status === 200 && status.body.state === 'waiting' && !status.body.soldOut) {
        await sleep(Number(status.body.pollAfterMs) || 500);
        status = await http.call(base, 'GET /concerts/:id/queue', 'GET', queuePath, { token });
      }
      return status;
    };
    /**
     * Wait as the web page does: the event stream with the stream token the join gave (a new one
     * from `POST …/stream-token` for each reopening) until `admitted` (whose data is the status
     * with the entry token), `soldout` or `evicted`; a stream that ends otherwise is followed by
     * one poll (the page reconnects).
     */
    const waitOnStream = async (base: string, token: string, first: Reply): Promise<Reply> => {
      let status = first;
      let streamToken: string | undefined = first.body.stream?.token;
      while (status.status === 200 && status.body.state === 'waiting' && !status.body.soldOut) {
        if (!streamToken) {
          const issued = await http.call(
            base,
            'POST /concerts/:id/queue/stream-token',
            'POST',
            `${queuePath}/stream-token`,
            { token },
          );
          if (issued.status !== 200) return issued;
          streamToken = issued.body.token as string;
        }
        let last: Reply | undefined;
        const code = await streams.stream(
          base,
          OPEN,
          `${queuePath}/events?access_token=${encodeURIComponent(streamToken)}`,
          ({ event, data }) => {
            if (event === 'admitted' || (event === 'status' && data.state !== 'waiting')) {
              last = { status: 200, body: data };
              return false;
            }
            if (event === 'status' && data.soldOut) {
              last = { status: 200, body: data };
              return false;
            }
            if (event === 'soldout') {
              last = { status: 200, body: { state: 'waiting', soldOut: true } };
              return false;
            }
            if (event === 'evicted') {
              last = { status: 200, body: { state: 'unknown' } };
              return false;
            }
            return undefined;
          },
        );
        if (code !== 200) note('stream', code);
        streamToken = undefined;
        status =
          last ?? (await http.call(base, 'GET /concerts/:id/queue', 'GET', queuePath, { token }));
      }
      return status;
    };

    // Every simulated browser gets the same layout (one ETag per version): its seat ids are parsed
    // once per version and shared, and no user keeps the answer itself, or 100,000 users would each
    // hold their own copy of a 10,000-seat map while they wait.
    const layouts = new Map<string, number[]>();
    const seatLayout = async (base: string): Promise<number[] | undefined> => {
      const known = LAYOUT === 'revalidate' ? [...layouts.keys()].at(-1) : undefined;
      const reply = await http.call(
        base,
        'GET /concerts/:id/seats/layout',
        'GET',
        `${mapPath}/seats/layout`,
        { text: true, headers: known ? { 'if-none-match': known } : {} },
      );
      if (reply.status === 304 && known) return layouts.get(known);
      if (reply.status !== 200) return void note('layout', reply);
      const key = reply.etag ?? reply.body;
      let ids = layouts.get(key);
      if (!ids) {
        ids = (JSON.parse(reply.body).rows as { ids: number[] }[]).flatMap((r) => r.ids);
        layouts.set(key, ids);
      }
      return ids;
    };

    const user = async (i: number) => {
      const base = urls[i % urls.length] as string;
      // The waiting page names the concert from the seat layout (kept by the browser for the seat
      // page: `max-age=3600`).
      const ids = await seatLayout(base);
      if (!ids) return void arrived++;
      const login = await http.call(base, 'POST /auth/demo-login', 'POST', '/auth/demo-login', {
        body: { name: `fan${i}` },
      });
      if (login.status !== 200) {
        arrived++;
        return note('login', login);
      }
      const token = login.body.token as string;
      let status = await http.call(base, `POST ${'/concerts/:id/queue'}`, 'POST', queuePath, {
        token,
      });
      const joinedAt = Date.now();
      arrived++;
      inLine++;
      status =
        waiters === 'sse'
          ? await waitOnStream(base, token, status)
          : await poll(base, token, status);
      waitingMs += Date.now() - joinedAt;
      inLine--;
      // Sold out: the page shows it and sends nothing more (the place lapses by itself).
      if (status.status === 200 && status.body.soldOut) return void soldOutSeen++;
      // The room no longer knows a user who waited as told (stream open, or polling at
      // pollAfterMs): evicted, whichever way it was told.
      if (status.status === 200 && status.body.state === 'unknown') return void evictedSeen++;
      if (status.status !== 200 || status.body.state !== 'active') return note('queue', status);
      admitted++;
      lastAdmissionAt = Date.now();
      const entry = status.body.token as string;
      // The seat page: the layout from the browser's cache (the waiting page loaded it), then the
      // statuses (If-None-Match), one letter per seat.
      let codes = '';
      let etag: string | undefined;
      const taken = new Set<number>(); // seats a 409 named, until the next snapshot
      for (let attempt = 0; attempt < 5; attempt++) {
        const map = await http.call(
          base,
          'GET /concerts/:id/seats/status',
          'GET',
          `${mapPath}/seats/status`,
          {
            headers: etag ? { 'if-none-match': etag } : {},
          },
        );
        if (map.status === 200) {
          codes = map.body.codes as string;
          etag = map.etag;
          taken.clear();
        } else if (map.status !== 304) return note('map', map);
        const free = ids.filter((id, i) => codes[i] === 'A' && !taken.has(id));
        if (free.length === 0) {
          if (/^S*$/.test(codes)) {
            soldOutSeen++;
            break;
          }
          await sleep(500);
          continue;
        }
        const seat = { id: free[Math.floor(Math.random() * free.length)] as number };
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
          taken.add(seat.id);
          continue;
        }
        if (held.status !== 201) return note('reserve', held);
        const paid = await http.call(base, 'POST /payments', 'POST', '/payments', {
          token: held.body.paymentToken,
          body: { reservationId: held.body.reservation.id },
          headers: { 'idempotency-key': `"${randomUUID()}"` },
        });
        if (paid.status !== 201) return note('pay', paid);
        booked++;
        lastBookingAt = Date.now();
        if (booked === SEATS) {
          saleRedisAtEnd = redisCalls(admin);
          saleCpuAtEnd = cpuReading();
        }
        return; // paying completes the waiting room
      }
      await http.call(base, 'DELETE /concerts/:id/queue', 'DELETE', queuePath, { token });
    };

    await admin.config('RESETSTAT');
    const cpuAtStart = servers.reduce((sum, s) => sum + cpuSeconds(s.child.pid), 0);
    const overflowsAtStart = listenOverflows();
    const clientCpuAtStart = process.cpuUsage();
    const hostsCpuAtStart = hostsCpu();
    const started = Date.now();
    const cpuNow = () => servers.reduce((sum, s) => sum + cpuSeconds(s.child.pid), 0);
    const requestsNow = () => latencies.summary().reduce((sum, [, n]) => sum + n, 0);
    const cpuReading = () => {
      const client = process.cpuUsage();
      return readCpu(cpuNow(), redis.pid, (client.user + client.system) / 1e6 + hostsCpu());
    };
    /** The waiting phase: everyone in line, nobody admitted; then the seats are released. */
    const waitPhase = async () => {
      const arrivalFrom = cpuReading();
      if (!release) {
        saleCpuAtStart = arrivalFrom;
        return { saleStartedAt: started, saleRedisAtStart: 0, waiting: undefined };
      }
      await sleep(ARRIVAL_S * 1000 + 2_000); // the last arrivals join and open their streams
      arrivalCpu = cpuBetween(arrivalFrom, cpuReading(), 0);
      // With SSE, waiting alone begins once every user has joined and opened a stream (a
      // backlogged arrival opens streams late; streams opened ≥ users in line), within a bound,
      // after which it begins anyway and says so. Pollers poll from their join on: no wait, so
      // the room is not held paused longer under a backlog (at the seed's scale that evicted).
      const opened = () => latencies.count(OPEN);
      const ready = () => waiters === 'poll' || (arrived === USERS && opened() >= inLine);
      for (const bound = Date.now() + 120_000; !ready() && Date.now() < bound; ) await sleep(100);
      const lateS = (Date.now() - started) / 1000 - ARRIVAL_S;
      if (!ready()) {
        const counts = `${arrived} of ${USERS} arrived, ${inLine} in line, ${opened()} streams`;
        console.warn(`waiting phase began anyway: ${counts}`);
      }
      const at = [Date.now(), cpuNow(), await redisCalls(admin), requestsNow(), inLine] as const;
      await sleep(WAIT_S * 1000);
      const minutes = ((Date.now() - at[0]) / 60_000) * ((at[4] + inLine) / 2);
      const waiting = {
        waiters: inLine,
        startedAfterS: lateS,
        minutes,
        appCpuMsPerMinute: ((cpuNow() - at[1]) * 1000) / minutes,
        redisPerMinute: ((await redisCalls(admin)) - at[2]) / minutes,
        requestsPerMinute: (requestsNow() - at[3]) / minutes,
      };
      await release();
      saleCpuAtStart = cpuReading();
      return { saleStartedAt: Date.now(), saleRedisAtStart: await redisCalls(admin), waiting };
    };
    const [phase] = await Promise.all([
      waitPhase(),
      ...Array.from({ length: USERS }, async (_, i) => {
        await sleep((i * ARRIVAL_S * 1000) / USERS);
        await user(i);
      }),
    ]);
    const saleS = (at: number) => (at - phase.saleStartedAt) / 1000;
    const wallS = (Date.now() - started) / 1000;
    const redisCommands = await redisCalls(admin);
    const overflows = listenOverflows() - overflowsAtStart;
    const appCpuS = servers.reduce((sum, s) => sum + cpuSeconds(s.child.pid), 0) - cpuAtStart;
    const clientCpu = process.cpuUsage(clientCpuAtStart);
    if (unexpected.length) console.warn(`unexpected statuses (first 20): ${unexpected.join(', ')}`);
    const saleRedisPerSeatOutsideWaiting = await monitor?.printSale(
      phase.saleStartedAt,
      lastBookingAt,
      booked,
    );
    // Every user paid or left; let the consumers catch up before reading the settled invariants.
    await settle(db, 30_000);
    const invariants = await readInvariants(db);
    return {
      instances,
      workers,
      waiters,
      waitingMinutes: waitingMs / 60_000,
      evictedSeen,
      wallS,
      admitted,
      admittedPerS: admitted / saleS(lastAdmissionAt),
      booked,
      bookingsPerS: booked / saleS(lastBookingAt),
      soldOutAfterS: saleS(lastBookingAt),
      waitPhase: phase.waiting,
      reserveConflicts,
      soldOutSeen,
      redisCommands,
      saleRedisCommands: (await (saleRedisAtEnd ?? redisCalls(admin))) - phase.saleRedisAtStart,
      saleRedisPerSeatOutsideWaiting,
      saleCpu: cpuBetween(saleCpuAtStart, saleCpuAtEnd ?? cpuReading(), booked),
      arrivalCpu,
      listenOverflows: overflows,
      requests: latencies.summary().reduce((sum, [, n]) => sum + n, 0),
      appCpuS,
      clientCpuS: (clientCpu.user + clientCpu.system) / 1e6 + hostsCpu() - hostsCpuAtStart,
      latencies,
      invariants,
      violations: invariantViolations(invariants, { settled: true }),
    };
  } finally {
    if (latencies.timeline) {
      // Diagnosis: every request relative to the start (s), its label and latency (ms).
      const file = `${process.env.BENCH_LOAD_TIMELINE}-${instances}-${waiters}.tsv`;
      const t0 = latencies.timeline[0]?.[0] ?? 0;
      writeFileSync(
        file,
        latencies.timeline
          .map(([at, label, ms]) => `${(at - t0) / 1000}\t${label}\t${ms}`)
          .join('\n'),
      );
    }
    http.close();
    monitor?.stop();
    streams.close();
    for (const s of servers) s.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => stopped(s.child))); // a CPU profile is written on exit
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
    await db.close();
    admin.disconnect();
    await redis.stop();
  }
}

const results: RunResult[] = [];
for (const plan of RUNS) {
  console.log(
    `running: ${USERS} users, ${SEATS} seats, ${plan.instances} instance(s), ${plan.waiters}…`,
  );
  results.push(await run(plan));
}
const [summary, latencyTable, targetTable] = loadTables(results, {
  users: USERS,
  seats: SEATS,
  arrivalS: ARRIVAL_S,
  waitS: WAIT_S,
  maxActive: MAX_ACTIVE,
  admitPerTick: ADMIT_PER_TICK,
  layout: LAYOUT,
  streamProcesses: STREAM_PROCESSES,
});
print(summary);
print(latencyTable);
print(targetTable);
// The seed's scale has a section of its own, so it does not replace the reference run's tables.
const seedScale = USERS >= 100_000;
writeSection(
  seedScale ? 'load-seed' : 'load',
  seedScale
    ? "Load: the seed's scale (100,000 users in a minute)"
    : 'Load: the reference app under a flash sale',
  [summary, latencyTable, targetTable],
  [
    'Everything on one machine: the load generator, both app processes, Redis and PostgreSQL share its cores, so the 2-instance run measures correctness under two processes more than scaling.',
    loadNote(),
  ],
);
if (results.some((r) => r.violations.length)) process.exitCode = 1;
