// The settings of a bench:load invocation, from its environment (bench/README.md has the table).
import type { RunPlan, Waiters } from './load-report.js';

/**
 * `--seed` (`npm run bench:load-seed`): the seed's scale — 100,000 users over 60 s for 10,000 seats,
 * on 2 instances, polling — as defaults that the variables below still override. SSE at this scale
 * (`BENCH_LOAD_RUNS=2w3:sse`: 3 workers per instance, streams in 6 load processes) runs, but on 2
 * cores its sale crawled (bench/README.md, "The seed's scale").
 */
export const SEED = process.argv.includes('--seed');
export const USERS = Number(process.env.BENCH_LOAD_USERS ?? (SEED ? 100_000 : 10_000));
export const SEATS = Number(process.env.BENCH_LOAD_SEATS ?? (SEED ? 10_000 : 1_000));
/** Users arrive evenly over this many seconds (the notes: 100,000 in a minute; scaled to the machine). */
export const ARRIVAL_S = Number(process.env.BENCH_LOAD_ARRIVAL_SECONDS ?? (SEED ? 60 : 20));
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const SECRET = 'bench-load-secret-bench-load-secret!';
/**
 * Which runs, in order: instances and how users wait (`sse` as the web page, or `poll`). The first
 * is the reference the others are compared with.
 */
export const RUNS: RunPlan[] = (
  process.env.BENCH_LOAD_RUNS ?? (SEED ? '2:poll' : '1:sse,1w2:sse,1:poll,2:sse')
)
  .split(',')
  .map((run) => {
    const match = /^([12])(?:w(\d))?:(sse|poll)$/.exec(run);
    if (!match) throw new Error(`BENCH_LOAD_RUNS: '${run}' is not <1|2>[w<workers>]:<sse|poll>`);
    return {
      instances: Number(match[1]),
      workers: Number(match[2] ?? 0),
      waiters: match[3] as Waiters,
    };
  });
/** Source addresses of the stream sockets (127.0.0.x), so 100,000 streams do not run out of ports. */
export const SOURCE_ADDRESSES = Array.from(
  { length: Number(process.env.BENCH_LOAD_SOURCE_ADDRESSES ?? (SEED ? 8 : 4)) },
  (_, i) => `127.0.0.${i + 1}`,
);
/**
 * Seconds every user waits in a room that admits nobody (every seat held by a placeholder
 * reservation, so the app pauses the room), from 2 s after the last arrival (with SSE: from once
 * everyone has joined and opened a stream): the cost of waiting alone, per waiting user-minute.
 * Then the seats are released and the sale starts. 0 skips the phase.
 */
export const WAIT_S = Number(process.env.BENCH_LOAD_WAIT_SECONDS ?? 20);
/** The label of a stream's opening (until its answer's headers). */
export const OPEN = 'GET /concerts/:id/queue/events (open)';
/**
 * The waiting room's heartbeat timeout (ms), unset for the app's default (30 s): a waiter far back
 * polls at a third of it, so it sets how many polls a long line sends.
 */
export const HEARTBEAT_TIMEOUT_MS = process.env.BENCH_LOAD_HEARTBEAT_TIMEOUT_MS;
/**
 * The waiting room's capacity (users in the booking area at once) and admissions per 100 ms tick:
 * about what one instance serves here (~110 bookings/s × ~1 s per booking); 200 queued requests
 * for the database pool and tripled the p99s without more bookings (bench/README.md).
 */
export const MAX_ACTIVE = Number(process.env.BENCH_LOAD_MAX_ACTIVE ?? (SEED ? 200 : 100));
export const ADMIT_PER_TICK = Number(process.env.BENCH_LOAD_ADMIT_PER_TICK ?? (SEED ? 50 : 25));
/**
 * How each user gets the seat layout: `full` (a 200 with the whole map, as a browser without a
 * cache) or `revalidate` (once the load generator has the map, `If-None-Match` and a 304, as behind
 * a shared cache that revalidates: the layout is `Cache-Control: public`). At 10,000 seats the map
 * is ~240 KB, so 100,000 full answers are ~24 GB through one load generator.
 */
export const LAYOUT = (process.env.BENCH_LOAD_LAYOUT ?? (SEED ? 'revalidate' : 'full')) as
  | 'full'
  | 'revalidate';
if (LAYOUT !== 'full' && LAYOUT !== 'revalidate') {
  throw new Error(`BENCH_LOAD_LAYOUT: '${LAYOUT}' is not full or revalidate`);
}
/**
 * Child processes that hold the SSE streams (0: this process). One process may hold 20,000 open
 * files here (a hard limit), so 100,000 streams need at least six.
 */
export const STREAM_PROCESSES = Number(process.env.BENCH_LOAD_STREAM_PROCESSES ?? (SEED ? 6 : 0));
/** A folder: each app process writes a V8 CPU profile there (`--cpu-prof`) when it stops. */
export const CPU_PROF_DIR = process.env.BENCH_LOAD_CPU_PROF;
/** Extra V8/Node flags of the app processes (space-separated), e.g. `--max-semi-space-size=32`. */
export const APP_NODE_ARGS = (process.env.BENCH_LOAD_APP_NODE_ARGS ?? '')
  .split(' ')
  .filter(Boolean);
export const nodeArgs = [
  ...APP_NODE_ARGS,
  ...(CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] : []),
];
