import express from 'express';
import { z } from 'zod';
import { QUEUE_DEFAULTS, type QueueSettings } from './concerts/rooms/queue-settings.js';
import { ConfigError } from './errors.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
const rate = z.coerce.number().min(0).max(1);
const ms = z.coerce.number().int().min(0).max(600_000);
const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;
/** `host:port[,host:port...]` → the list, or undefined when unset. */
const hostPortList = z
  .string()
  .optional()
  .transform((value) =>
    value === undefined || value.trim() === ''
      ? undefined
      : value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
  )
  .refine((list) => list === undefined || list.every((item) => hostPort.test(item)), {
    message: 'comma-separated host:port pairs',
  });
const perMinute = z.coerce.number().int().min(0).max(1_000_000);
/** Express `trust proxy`: false/true, a hop count, or addresses/subnets/names Express accepts. */
const trustProxy = z
  .string()
  .default('false')
  .transform((value): boolean | number | string => {
    const v = value.trim();
    if (/^(false|0|no)$/i.test(v)) return false;
    if (/^(true|yes)$/i.test(v)) return true;
    return /^\d{1,2}$/.test(v) ? Number(v) : v;
  })
  .refine(
    (value) => {
      try {
        express().set('trust proxy', value);
        return true;
      } catch {
        return false;
      }
    },
    {
      message:
        'false, true, a hop count, or comma-separated addresses, subnets or loopback/linklocal/uniquelocal',
    },
  );
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** Every environment variable the app reads, with its default. `.env.example` documents the same. */
const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LISTEN_BACKLOG: z.coerce.number().int().min(1).max(65_535).default(4096),
  HTTP_WORKERS: z.coerce.number().int().min(0).max(64).default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  OTEL_TRACES_CONSOLE: bool.default(false),
  REDIS_URL: optionalText,
  REDIS_CLUSTER_NODES: hostPortList,
  REDIS_SENTINELS: hostPortList,
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only (1-64 chars)')
    .default('mymaster'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - only (1-64 chars)')
    .default('bo'),
  DATABASE_URL: optionalText,
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
    .default('public'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  PGLITE_DATA_DIR: optionalText,
  SEED_DEMO_DATA: bool.default(true),
  JWT_SECRET: optionalText.refine((value) => value === undefined || value.length >= 32, {
    message: 'must be at least 32 characters',
  }),
  LOGIN_RATE_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
  QUEUE_JOIN_RATE_LIMIT: perMinute.default(20),
  QUEUE_JOIN_ADDRESS_RATE_LIMIT: perMinute.default(600),
  QUEUE_STREAM_RATE_LIMIT: perMinute.default(20),
  QUEUE_STREAM_ADDRESS_RATE_LIMIT: perMinute.default(600),
  TRUST_PROXY: trustProxy,
  METRICS_TOKEN: optionalText.refine((value) => value === undefined || value.length >= 16, {
    message: 'must be at least 16 characters',
  }),
  ADMIN_TOKEN: optionalText.refine((value) => value === undefined || value.length >= 16, {
    message: 'must be at least 16 characters',
  }),
  JWT_TTL_SEC: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400 * 30)
    .default(3600),
  STREAM_TOKEN_TTL_SEC: z.coerce.number().int().min(1).max(3600).default(120),
  QUEUE_MAX_ACTIVE: z.coerce.number().int().min(1).max(1_000_000).default(QUEUE_DEFAULTS.maxActive),
  QUEUE_ADMIT_PER_TICK: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(QUEUE_DEFAULTS.admitPerTick),
  QUEUE_TICK_MS: z.coerce.number().int().min(10).max(60_000).default(QUEUE_DEFAULTS.tickMs),
  QUEUE_IDLE_TICK_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(QUEUE_DEFAULTS.idleTickMs),
  QUEUE_HEARTBEAT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(3_600_000)
    .default(QUEUE_DEFAULTS.heartbeatTimeoutMs),
  QUEUE_MAX_POLL_AFTER_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(3_600_000)
    .default(QUEUE_DEFAULTS.maxPollAfterMs),
  QUEUE_ACTIVE_TTL_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(86_400_000)
    .default(QUEUE_DEFAULTS.activeTtlMs),
  QUEUE_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(QUEUE_DEFAULTS.graceMs),
  HOLD_TTL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
  HOLD_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  SEATS_PER_USER_MAX: z.coerce.number().int().min(1).max(10_000).default(4),
  SEAT_STATUS_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  PAYMENT_RECOVERY_AFTER_MS: z.coerce.number().int().min(1000).max(86_400_000).optional(),
  PAYMENT_RECOVERY_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  HOLD_REAPER_MARGIN_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
  HOLD_REAPER_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  OUTBOX_POLL_MS: z.coerce.number().int().min(50).max(600_000).default(1000),
  OUTBOX_REDELIVER_AFTER_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  EVENTS_PUBLISH_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(100),
  OUTBOX_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(168),
  PG_LATENCY_MS: ms.default(50),
  PG_TIMEOUT_MS: ms.default(3000),
  PG_FAILURE_RATE: rate.default(0),
  PG_TIMEOUT_RATE: rate.default(0),
  PG_CHARGED_ON_TIMEOUT_RATE: rate.default(0.5),
});

/** The names of every environment variable the app reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

/** The app's configuration, read once from the environment. */
export interface AppConfig {
  port: number;
  host: string;
  /**
   * Pending connections the kernel queues before the app accepts them (capped by
   * `net.core.somaxconn`). Node's 511 overflowed when thousands of waiters opened their streams at
   * once: the dropped SYNs were retried after 1 s, 3 s, 7 s — seconds of latency with the app idle.
   */
  listenBacklog: number;
  /**
   * 0: one process. N > 0: a primary process accepts the connections and hands them to N worker
   * processes (node:cluster round robin), each a full instance, on one port. It does not lift the
   * accept rate of a busy process by itself: the round robin hands a worker its next connection
   * only after the worker acknowledged the last one (once per worker loop iteration). Needs
   * DATABASE_URL.
   */
  httpWorkers: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `LOG_FORMAT`; unset: `pretty` when stdout is a terminal (the demo), else JSON lines. */
  logFormat: 'json' | 'pretty' | undefined;
  /** `OTEL_TRACES_CONSOLE`: print the packages' OpenTelemetry spans to stdout (observability/tracing.ts). */
  tracesConsole: boolean;
  redis: {
    /** Standalone Redis. Unset (and no cluster or sentinels): found or started by local-redis. */
    url: string | undefined;
    /** Seed nodes of a Redis Cluster (`host:port`); exclusive with `url` and `sentinels`. */
    clusterNodes: string[] | undefined;
    /** Sentinels (`host:port`) that name the master `sentinelName`; exclusive with the others. */
    sentinels: string[] | undefined;
    sentinelName: string;
    prefix: string;
  };
  database: {
    /** Unset: embedded PGlite. */
    url: string | undefined;
    schema: string;
    poolMax: number;
    /** PGlite data directory; unset: in memory (fresh on every start). */
    pgliteDataDir: string | undefined;
    seed: boolean;
  };
  auth: {
    /** Unset: a random secret per process (tokens do not survive a restart or cross instances). */
    jwtSecret: string | undefined;
    ttlSec: number;
    /** Lifetime of a waiting-room stream token (the only token a URL may carry). */
    streamTtlSec: number;
    /** Demo logins per client IP and minute; 0 = unlimited. */
    loginRateLimit: number;
    /** Bearer token of `/metrics` and `/stats`; unset: they are open. */
    metricsToken: string | undefined;
    /** Bearer token of the operator page's API (`/admin/api/...`); unset: those routes answer 404. */
    adminToken: string | undefined;
  };
  /** Express `trust proxy` (client address and HTTPS from `X-Forwarded-*`); false: the socket's. */
  trustProxy: boolean | number | string;
  /** Waiting-room brakes per minute (0 = off): joins and SSE opens, per user and per address. */
  queueRateLimits: {
    joinPerUser: number;
    joinPerAddress: number;
    streamPerUser: number;
    streamPerAddress: number;
  };
  /** Every concert's waiting room. */
  queue: QueueSettings;
  /** Seat holds behind reservations: the UI timer and the server grace after it. */
  holds: { ttlMs: number; graceMs: number };
  /** Most seats (HELD or ASSIGNED) one user may have per concert. */
  seatsPerUserMax: number;
  /** How long one seat-status snapshot answers in a process (its staleness bound); 0 = none. */
  seatStatusCacheMs: number;
  /**
   * Recovery of payments left in STARTED, PG_REQUESTED or RETRY_SCHEDULED by a process that died.
   * `afterMs` unset: 60 s, or twice the gateway's longest call (timeout + latency) if longer.
   */
  paymentRecovery: { afterMs: number | undefined; intervalMs: number };
  /** The database-side backstop of hold expiry: HELD this long past `expiresAt` + grace, checked every `intervalMs`. */
  holdReaper: { marginMs: number; intervalMs: number };
  /** How often every instance's outbox relay polls for due messages, and how long done ones stay. */
  outbox: { pollMs: number; retentionMs: number; redeliverAfterMs: number };
  /** `EVENTS_PUBLISH_WINDOW_MS`: how long a `payment.succeeded` waits for others to share its job. */
  eventsPublishWindowMs: number;
  paymentGateway: {
    latencyMs: number;
    timeoutMs: number;
    failureRate: number;
    timeoutRate: number;
    chargedOnTimeoutRate: number;
  };
}

/**
 * Read the configuration from `env` (default `process.env`). Empty values count as unset; every
 * variable has a default that works on a machine with nothing configured.
 * @throws ConfigError naming each invalid variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  const topologies = [
    c.REDIS_URL && 'REDIS_URL',
    c.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES',
    c.REDIS_SENTINELS && 'REDIS_SENTINELS',
  ].filter(Boolean);
  if (topologies.length > 1) {
    throw new ConfigError([`${topologies.join(', ')}: set at most one of them`]);
  }
  if (c.HTTP_WORKERS > 0 && !c.DATABASE_URL) {
    throw new ConfigError([
      'HTTP_WORKERS: needs DATABASE_URL (each worker process would get its own in-memory PGlite)',
    ]);
  }
  if (c.PG_FAILURE_RATE + c.PG_TIMEOUT_RATE > 1) {
    throw new ConfigError(['PG_FAILURE_RATE + PG_TIMEOUT_RATE: must not exceed 1']);
  }
  return {
    port: c.PORT,
    host: c.HOST,
    listenBacklog: c.LISTEN_BACKLOG,
    httpWorkers: c.HTTP_WORKERS,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
    tracesConsole: c.OTEL_TRACES_CONSOLE,
    redis: {
      url: c.REDIS_URL,
      clusterNodes: c.REDIS_CLUSTER_NODES,
      sentinels: c.REDIS_SENTINELS,
      sentinelName: c.REDIS_SENTINEL_NAME,
      prefix: c.REDIS_PREFIX,
    },
    database: {
      url: c.DATABASE_URL,
      schema: c.DATABASE_SCHEMA,
      poolMax: c.DATABASE_POOL_MAX,
      pgliteDataDir: c.PGLITE_DATA_DIR,
      seed: c.SEED_DEMO_DATA,
    },
    auth: {
      jwtSecret: c.JWT_SECRET,
      ttlSec: c.JWT_TTL_SEC,
      streamTtlSec: c.STREAM_TOKEN_TTL_SEC,
      loginRateLimit: c.LOGIN_RATE_LIMIT,
      metricsToken: c.METRICS_TOKEN,
      adminToken: c.ADMIN_TOKEN,
    },
    trustProxy: c.TRUST_PROXY,
    queueRateLimits: {
      joinPerUser: c.QUEUE_JOIN_RATE_LIMIT,
      joinPerAddress: c.QUEUE_JOIN_ADDRESS_RATE_LIMIT,
      streamPerUser: c.QUEUE_STREAM_RATE_LIMIT,
      streamPerAddress: c.QUEUE_STREAM_ADDRESS_RATE_LIMIT,
    },
    queue: {
      maxActive: c.QUEUE_MAX_ACTIVE,
      admitPerTick: c.QUEUE_ADMIT_PER_TICK,
      tickMs: c.QUEUE_TICK_MS,
      // Never below the tick: a longer QUEUE_TICK_MS alone keeps its pace when idle too.
      idleTickMs: Math.max(c.QUEUE_IDLE_TICK_MS, c.QUEUE_TICK_MS),
      heartbeatTimeoutMs: c.QUEUE_HEARTBEAT_TIMEOUT_MS,
      maxPollAfterMs: c.QUEUE_MAX_POLL_AFTER_MS,
      activeTtlMs: c.QUEUE_ACTIVE_TTL_MS,
      graceMs: c.QUEUE_GRACE_MS,
    },
    holds: { ttlMs: c.HOLD_TTL_MS, graceMs: c.HOLD_GRACE_MS },
    seatsPerUserMax: c.SEATS_PER_USER_MAX,
    seatStatusCacheMs: c.SEAT_STATUS_CACHE_MS,
    paymentRecovery: {
      afterMs: c.PAYMENT_RECOVERY_AFTER_MS,
      intervalMs: c.PAYMENT_RECOVERY_INTERVAL_MS,
    },
    holdReaper: { marginMs: c.HOLD_REAPER_MARGIN_MS, intervalMs: c.HOLD_REAPER_INTERVAL_MS },
    eventsPublishWindowMs: c.EVENTS_PUBLISH_WINDOW_MS,
    outbox: {
      pollMs: c.OUTBOX_POLL_MS,
      retentionMs: c.OUTBOX_RETENTION_HOURS * 3_600_000,
      redeliverAfterMs: c.OUTBOX_REDELIVER_AFTER_MS,
    },
    paymentGateway: {
      latencyMs: c.PG_LATENCY_MS,
      timeoutMs: c.PG_TIMEOUT_MS,
      failureRate: c.PG_FAILURE_RATE,
      timeoutRate: c.PG_TIMEOUT_RATE,
      chargedOnTimeoutRate: c.PG_CHARGED_ON_TIMEOUT_RATE,
    },
  };
}
