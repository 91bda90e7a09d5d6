// The tables bench:load prints and writes into BENCHMARKS.md, from the results of its runs.

import { cpus } from 'node:os';
import type { Invariants } from '../../examples/booking-app/test/invariants.js';
import type { Table } from '../lib/report.js';
import type { Latencies } from './http-client.js';
import type { CoresUsed } from './process-stats.js';

/** How waiting users learn their turn: the event stream (as the web page) or polling. */
export type Waiters = 'sse' | 'poll';
export interface RunPlan {
  instances: number;
  /** HTTP_WORKERS of each instance (0: one process). */
  workers: number;
  waiters: Waiters;
}

export interface RunResult extends RunPlan {
  /** The paused-room phase (BENCH_LOAD_WAIT_SECONDS), when run. */
  waitPhase:
    | {
        waiters: number;
        /** Seconds from the last arrival to the phase's start (2; with SSE, once streams opened). */
        startedAfterS: number;
        minutes: number;
        appCpuMsPerMinute: number;
        redisPerMinute: number;
        requestsPerMinute: number;
      }
    | undefined;
  /** Minutes users spent in the line (join to admission or leaving), summed. */
  waitingMinutes: number;
  evictedSeen: number;
  wallS: number;
  admitted: number;
  admittedPerS: number;
  booked: number;
  bookingsPerS: number;
  soldOutAfterS: number;
  reserveConflicts: number;
  soldOutSeen: number;
  redisCommands: number;
  /** Commands from the sale's start to the last seat paid for (the waiters' streams included). */
  saleRedisCommands: number;
  /** The same per sold seat without the waiters' visits, with `BENCH_LOAD_REDIS_MONITOR` only. */
  saleRedisPerSeatOutsideWaiting: number | undefined;
  /** Where the machine's cores went from the sale's start to the last seat paid for. */
  saleCpu: CoresUsed | undefined;
  /** The same over the arrival (the first user to 2 s after the last), when a waiting phase follows it. */
  arrivalCpu: CoresUsed | undefined;
  /** Connections dropped by a full accept queue during the run (see `listenOverflows`). */
  listenOverflows: number;
  requests: number;
  appCpuS: number;
  clientCpuS: number;
  latencies: Latencies;
  invariants: Invariants;
  violations: string[];
}

/** The settings of an invocation, as its notes state them. */
export interface LoadSettings {
  users: number;
  seats: number;
  arrivalS: number;
  waitS: number;
  maxActive: number;
  admitPerTick: number;
  /** How users get the seat layout (BENCH_LOAD_LAYOUT). */
  layout: 'full' | 'revalidate';
  /** Child processes holding the SSE streams (0: the load generator itself). */
  streamProcesses: number;
}

/** Cores used by the app, PostgreSQL, Redis and the load generator, as `a / b / c / d`. */
const cores = (c: CoresUsed) =>
  [c.app, c.postgres, c.redis, c.client].map((n) => n.toFixed(2)).join(' / ');

/** The summary, latency and issue #14 target tables of `results` (the first is the reference). */
export function loadTables(results: RunResult[], settings: LoadSettings): [Table, Table, Table] {
  const label = (r: RunResult, i: number) =>
    `${r.instances} instance${r.instances > 1 ? 's' : ''}${r.workers ? ` (HTTP_WORKERS ${r.workers})` : ''}, ${r.waiters}${i === 0 ? ' (reference)' : ''}`;
  const columns = ['figure', ...results.map(label)];
  const row = (name: string, figure: (r: RunResult) => number | string) => [
    name,
    ...results.map(figure),
  ];

  const summary: Table = {
    title: `Flash sale: ${settings.users.toLocaleString('en-US')} users, ${settings.seats.toLocaleString('en-US')} seats`,
    columns,
    rows: [
      row('admitted users', (r) => r.admitted),
      row('admitted / s', (r) => r.admittedPerS),
      row('seats sold (paid)', (r) => r.booked),
      row('bookings / s (until sold out)', (r) => r.bookingsPerS),
      row('sold out after (s)', (r) => r.soldOutAfterS),
      row('reservation conflicts (409/400)', (r) => r.reserveConflicts),
      row('users who saw "sold out"', (r) => r.soldOutSeen),
      row('users evicted while waiting', (r) => r.evictedSeen),
      row('waiting phase: users in line', (r) => r.waitPhase?.waiters ?? '—'),
      row(
        'waiting phase: began after the last arrival (s)',
        (r) => r.waitPhase?.startedAfterS ?? '—',
      ),
      row(
        'waiting phase: app CPU per waiting user-minute (ms)',
        (r) => r.waitPhase?.appCpuMsPerMinute ?? '—',
      ),
      row(
        'waiting phase: Redis commands per waiting user-minute',
        (r) => r.waitPhase?.redisPerMinute ?? '—',
      ),
      row(
        'waiting phase: requests per waiting user-minute',
        (r) => r.waitPhase?.requestsPerMinute ?? '—',
      ),
      row('waiting user-minutes (whole run)', (r) => r.waitingMinutes),
      row('requests', (r) => r.requests),
      row('app CPU (s, all instances)', (r) => r.appCpuS),
      row('load generator CPU (s)', (r) => r.clientCpuS),
      row('app CPU per request (µs)', (r) => (r.appCpuS * 1e6) / r.requests),
      row('app CPU per sold seat (ms)', (r) => (r.appCpuS * 1e3) / r.booked),
      row('Redis commands per sold seat (whole run)', (r) => r.redisCommands / r.booked),
      row('Redis commands per sold seat (sale phase)', (r) => r.saleRedisCommands / r.booked),
      ...(results.some((r) => r.saleRedisPerSeatOutsideWaiting !== undefined)
        ? [
            row(
              "Redis commands per sold seat (sale phase, all but the waiters' visits; MONITOR)",
              (r) => r.saleRedisPerSeatOutsideWaiting ?? '—',
            ),
          ]
        : []),
      row('arrival: cores used by app / PostgreSQL / Redis / load generator; machine busy', (r) =>
        r.arrivalCpu ? `${cores(r.arrivalCpu)}; ${r.arrivalCpu.machine.toFixed(2)}` : '—',
      ),
      row('sale phase: cores used by app / PostgreSQL / Redis / load generator', (r) =>
        r.saleCpu ? cores(r.saleCpu) : '—',
      ),
      row(`sale phase: machine busy (cores of ${cpus().length})`, (r) => r.saleCpu?.machine ?? '—'),
      row('sale phase: cores taken by the hypervisor (steal)', (r) => r.saleCpu?.steal ?? '—'),
      row(
        'sale phase: machine CPU per sold seat, all processes (ms)',
        (r) => r.saleCpu?.machineMsPerBooking ?? '—',
      ),
      row('connections dropped by a full accept queue (retried by TCP)', (r) => r.listenOverflows),
      row('wall time (s)', (r) => r.wallS),
      row('invariants', (r) => r.violations.join('; ') || 'hold'),
    ],
    notes: [
      `Users arrive evenly over ${settings.arrivalS} s; waiting room: ${settings.maxActive} active, ${settings.admitPerTick} admitted per 100 ms tick; mock gateway latency 20 ms, no failures.`,
      settings.layout === 'full'
        ? 'Each user downloads the whole seat layout (a browser without a cache).'
        : 'Each user revalidates the seat layout (`If-None-Match`, 304) once the load generator has it, as behind a shared cache: the layout is `Cache-Control: public`.',
      ...(settings.streamProcesses > 0
        ? [
            `The SSE streams are held by ${settings.streamProcesses} child processes of the load generator (at most 20,000 open files per process here).`,
          ]
        : []),
      settings.waitS > 0
        ? `Waiting phase: every seat is held by a placeholder reservation, so the app pauses the room (no seat AVAILABLE) and everyone waits; its rows measure ${settings.waitS} s of waiting alone, from 2 s after the last arrival, or with SSE from the moment every user has joined and opened its stream (the row "began after the last arrival"; a backlogged arrival opens streams late). Then the seats are released and the sale starts: admissions, bookings/s and "sold out after" count from that moment.`
        : 'No waiting phase (BENCH_LOAD_WAIT_SECONDS=0): the sale starts with the first arrival.',
      'Invariants (read from PostgreSQL once the run settled, the same SQL as the chaos tests): no seat in two live reservations, every ASSIGNED seat in exactly one CONFIRMED reservation and back, one gateway charge per SUCCEEDED payment and none without a seat, no reservation paid twice, no hold or payment left pending, each payment.succeeded consumed exactly once per consumer.',
      "Redis commands: INFO commandstats (every request, queue tick, BullMQ worker poll, commands inside Lua) divided by seats sold, over the whole run and over the sale phase (from the seats' release to the last seat paid for; the waiters' streams and the sold-out users' exits in that window count too); the row marked MONITOR (`BENCH_LOAD_REDIS_MONITOR` runs only) leaves out every command of the waiting room's visit.lua calls — the waiters' joins, heartbeats and status reads — read off Redis MONITOR, which adds to Redis' own CPU. App CPU: user + system time of the app processes (/proc), start to end of the sale. Sale-phase cores: CPU seconds per wall second of each part (/proc) and of the whole machine (/proc/stat; steal: time the hypervisor gave the cores to someone else) from the seats' release to the last seat paid for; arrival: the same from the first user to 2 s after the last.",
    ],
  };
  const latencyTable: Table = {
    title: 'Latency per endpoint, ms (client side, keep-alive, 256 sockets)',
    columns: [
      'endpoint',
      ...results.flatMap((r) => [`requests (${r.instances}, ${r.waiters})`, `p50`, `p99`]),
    ],
    rows: [...new Set(results.flatMap((r) => r.latencies.summary().map(([name]) => name)))].map(
      (name) => [
        name,
        ...results.flatMap((r) => {
          const found = r.latencies.summary().find((entry) => entry[0] === name);
          return [found?.[1] ?? 0, found?.[2] ?? 0, found?.[3] ?? 0];
        }),
      ],
    ),
  };
  /** Issue #14's targets against this invocation's runs (the first SSE / poll / 2-instance runs found). */
  function targets(): Table {
    const find = (f: (r: RunResult) => boolean) => results.find(f);
    const sse1 = find((r) => r.instances === 1 && r.workers === 0 && r.waiters === 'sse');
    const poll1 = find((r) => r.instances === 1 && r.workers === 0 && r.waiters === 'poll');
    const sse2 = find((r) => r.instances === 2 && r.waiters === 'sse');
    const worstP99 = (r: RunResult) =>
      r.latencies.summary().reduce((worst, row) => (row[3] > worst[3] ? row : worst));
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    const rows: (string | number)[][] = [];
    if (settings.users >= 100_000) {
      // The seed's scale: its own targets, for every run of the invocation.
      for (const r of results) {
        const run = `${r.instances} instance(s)${r.workers ? ` × ${r.workers} workers` : ''}, ${r.waiters}`;
        const [endpoint, , , p99] = worstP99(r);
        rows.push([
          `${run}: every invariant holds`,
          r.violations.join('; ') || 'hold',
          met(!r.violations.length),
        ]);
        rows.push([
          `${run}: p99 ≤ 1 s on every endpoint, the worst`,
          `${Math.round(p99)} ms (${endpoint})`,
          met(p99 <= 1_000),
        ]);
        rows.push([`${run}: no waiter evicted`, r.evictedSeen, met(r.evictedSeen === 0)]);
      }
      return {
        title: "Targets of issue #14 at the seed's scale in this run",
        columns: ['target', 'measured', ''],
        rows,
      };
    }
    if (sse1) {
      rows.push([
        '≥ 150 bookings/s, 1 instance, SSE waiters',
        sse1.bookingsPerS,
        met(sse1.bookingsPerS >= 150),
      ]);
      const [endpoint, , , p99] = worstP99(sse1);
      rows.push([
        'p99 ≤ 500 ms on every endpoint (1 instance, SSE): the worst',
        `${Math.round(p99)} ms (${endpoint})`,
        met(p99 <= 500),
      ]);
      const outside = sse1.saleRedisPerSeatOutsideWaiting;
      const perSeat = outside ?? sse1.saleRedisCommands / sse1.booked;
      rows.push([
        outside === undefined
          ? '≤ 50 Redis commands per sold seat outside waiting (here: the sale phase, the waiters beside it included)'
          : "≤ 50 Redis commands per sold seat outside waiting (the sale phase but the waiters' visits, by MONITOR)",
        perSeat,
        met(perSeat <= 50),
      ]);
    }
    const workers1 = find((r) => r.instances === 1 && r.workers > 0 && r.waiters === 'sse');
    if (workers1) {
      // The same instance with its JavaScript on more than one thread (node:cluster workers).
      const [endpoint, , , p99] = worstP99(workers1);
      rows.push([
        `(the same two with HTTP_WORKERS=${workers1.workers}: bookings/s; the worst p99)`,
        `${workers1.bookingsPerS.toFixed(1)}; ${Math.round(p99)} ms (${endpoint})`,
        met(workers1.bookingsPerS >= 150 && p99 <= 500),
      ]);
    }
    if (sse1?.waitPhase && poll1?.waitPhase) {
      const ratio = sse1.waitPhase.appCpuMsPerMinute / poll1.waitPhase.appCpuMsPerMinute;
      rows.push([
        'SSE waiting ≤ 1/10 of polling (app CPU per waiting user-minute)',
        ratio,
        met(ratio <= 0.1),
      ]);
    }
    if (sse1 && sse2) {
      const ratio = sse2.bookingsPerS / sse1.bookingsPerS;
      rows.push(['2 instances ≥ 1.0× one instance (bookings/s)', ratio, met(ratio >= 1)]);
    }
    return { title: 'Targets of issue #14 in this run', columns: ['target', 'measured', ''], rows };
  }

  return [summary, latencyTable, targets()];
}
