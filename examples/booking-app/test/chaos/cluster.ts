import type { ChildProcess } from 'node:child_process';
import { freePort, type RedisProcess, spawnRedis } from '@boxoffice/local-redis';
import { randomPrefix } from '@boxoffice/local-redis/testing';
import type { Database } from '../../src/db/database.js';
import { POSTGRES_URL, SECRET } from '../helpers.js';
import { start } from '../server-process.js';

/** One `dist/server.js` process of a chaos run. */
export interface Instance {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** False once killed (until restarted). */
  alive: boolean;
}

/** What a chaos run shares: its own redis-server, a PostgreSQL schema, the app's environment. */
export interface Stack {
  readonly redis: RedisProcess;
  readonly env: Record<string, string>;
  readonly prefix: string;
  readonly concertId: number;
  readonly instances: Instance[];
  /** Start one more instance with the stack's env plus `extra` (and node arguments, e.g. a preload). */
  spawn(extra?: Record<string, string>, nodeArgs?: readonly string[]): Promise<Instance>;
  /** SIGKILL an instance (as a crash would) and wait for it to be gone. */
  kill(instance: Instance): Promise<void>;
  /** Kill every instance and the redis-server. */
  stop(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  db: Database;
  schema: string;
  seats: number;
  /** Extra `redis-server` arguments (e.g. AOF on). */
  redisArgs?: readonly string[];
  /** App environment on top of the chaos defaults. */
  env?: Record<string, string>;
}

/** A concert on sale now with `seats` AVAILABLE seats at 50.00; returns its id. */
export async function createConcert(db: Database, seats: number): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO concerts (name, venue, starts_at, sales_open_at)
     VALUES ('Chaos', 'Arena', now() + interval '30 days', now() - interval '1 hour') RETURNING id`,
  );
  const concertId = (rows[0] as { id: number }).id;
  await db.query(
    `INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
     SELECT $1, 'Floor', 'A', n, 'A' || n, 5000, 'AVAILABLE' FROM generate_series(1, $2) AS n`,
    [concertId, seats],
  );
  return concertId;
}

/**
 * A redis-server of the run's own (so it can be killed without touching the shared one), a concert
 * in the test's schema, and the environment every instance of the run gets: the same PostgreSQL
 * schema, Redis, prefix and JWT secret, no login limit, short timers.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const redis = await spawnRedis({ port: await freePort(), args: options.redisArgs ?? [] });
  const concertId = await createConcert(options.db, options.seats);
  const prefix = randomPrefix();
  const env: Record<string, string> = {
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: options.schema,
    DATABASE_POOL_MAX: '8',
    SEED_DEMO_DATA: 'false',
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    JWT_SECRET: SECRET,
    LOGIN_RATE_LIMIT: '0',
    QUEUE_MAX_ACTIVE: '20',
    QUEUE_ADMIT_PER_TICK: '20',
    QUEUE_TICK_MS: '100',
    QUEUE_HEARTBEAT_TIMEOUT_MS: '20000',
    HOLD_TTL_MS: '2000',
    HOLD_GRACE_MS: '500',
    PG_LATENCY_MS: '5',
    PG_TIMEOUT_MS: '200',
    // The database-side backstops, on a short leash (holds here last a few seconds): the hold
    // reaper, and the recovery of payments left STARTED (e.g. a confirm that met Redis down),
    // PG_REQUESTED or RETRY_SCHEDULED (above the gateway's longest call, 205 ms by default here).
    HOLD_REAPER_MARGIN_MS: '1000',
    HOLD_REAPER_INTERVAL_MS: '500',
    PAYMENT_RECOVERY_AFTER_MS: '2000',
    PAYMENT_RECOVERY_INTERVAL_MS: '500',
    ...options.env,
  };
  const instances: Instance[] = [];
  const kill = async (instance: Instance) => {
    instance.alive = false;
    const { child } = instance;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  };
  return {
    redis,
    env,
    prefix,
    concertId,
    instances,
    async spawn(extra = {}, nodeArgs = []) {
      const started = await start({ ...env, ...extra }, { nodeArgs });
      const instance: Instance = { ...started, alive: true };
      instances.push(instance);
      return instance;
    },
    kill,
    async stop() {
      for (const instance of instances) await kill(instance);
      await redis.stop();
    },
  };
}

/** The Redis key of a concert room's active set (`@boxoffice/queue` key layout: `<prefix>:q:{room}:a`). */
export const activeKey = (prefix: string, concertId: number) =>
  `${prefix}:q:{concert-${concertId}}:a`;

/**
 * The distinct warnings and errors the instances logged (pino JSON lines at level ≥ 40), as
 * `msg (error type: message) ×count`, most frequent first — for a scenario's printed block.
 */
export function logSummary(instances: readonly Instance[], limit = 6): string[] {
  const counts = new Map<string, number>();
  for (const line of instances.flatMap((i) => i.output().split('\n'))) {
    if (!line.startsWith('{')) continue;
    let entry: { level?: number; msg?: string; err?: { type?: string; message?: string } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    // Per-request lines (the request log writes 4xx/5xx answers at warn/error) are counted by the load.
    if ((entry.level ?? 0) < 40 || /^request (completed|errored)$/.test(entry.msg ?? '')) continue;
    const err = entry.err ? ` (${entry.err.type}: ${(entry.err.message ?? '').slice(0, 100)})` : '';
    const key = `${entry.msg}${err}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((x, y) => y[1] - x[1])
    .slice(0, limit)
    .map(([k, n]) => `${k} ×${n}`);
}
