import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

describe('loadConfig', () => {
  it('works with nothing set: embedded PGlite, discovered Redis, no gateway failures', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      listenBacklog: 4096,
      httpWorkers: 0,
      logLevel: 'info',
      logFormat: undefined,
      tracesConsole: false,
      redis: { url: undefined, prefix: 'bo' },
      database: {
        url: undefined,
        schema: 'public',
        poolMax: 10,
        pgliteDataDir: undefined,
        seed: true,
      },
      auth: {
        jwtSecret: undefined,
        ttlSec: 3600,
        streamTtlSec: 120,
        loginRateLimit: 30,
        metricsToken: undefined,
      },
      seatsPerUserMax: 4,
      trustProxy: false,
      queueRateLimits: {
        joinPerUser: 20,
        joinPerAddress: 600,
        streamPerUser: 20,
        streamPerAddress: 600,
      },
      holdReaper: { marginMs: 60_000, intervalMs: 15_000 },
      paymentGateway: {
        latencyMs: 50,
        timeoutMs: 3000,
        failureRate: 0,
        timeoutRate: 0,
        chargedOnTimeoutRate: 0.5,
      },
    });
  });

  it('keeps an idle room ticking no faster than QUEUE_TICK_MS', () => {
    expect(loadConfig({}).queue).toMatchObject({ tickMs: 1000, idleTickMs: 1000 });
    expect(loadConfig({ QUEUE_TICK_MS: '100' }).queue).toMatchObject({
      tickMs: 100,
      idleTickMs: 1000,
    });
    expect(loadConfig({ QUEUE_TICK_MS: '5000' }).queue).toMatchObject({
      tickMs: 5000,
      idleTickMs: 5000,
    });
  });

  it('reads every variable, treating empty values as unset', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      LISTEN_BACKLOG: '8192',
      HTTP_WORKERS: '3',
      LOG_LEVEL: 'debug',
      OTEL_TRACES_CONSOLE: 'true',
      REDIS_URL: 'redis://10.0.0.1:6380',
      REDIS_PREFIX: 'shop',
      REDIS_CLUSTER_NODES: '',
      REDIS_SENTINEL_NAME: 'sentinels-name',
      DATABASE_URL: 'postgres://u@db/x',
      DATABASE_SCHEMA: 'booking',
      DATABASE_POOL_MAX: '25',
      PGLITE_DATA_DIR: '',
      SEED_DEMO_DATA: 'false',
      JWT_SECRET: 's'.repeat(32),
      JWT_TTL_SEC: '60',
      STREAM_TOKEN_TTL_SEC: '30',
      LOGIN_RATE_LIMIT: '0',
      QUEUE_JOIN_RATE_LIMIT: '5',
      QUEUE_JOIN_ADDRESS_RATE_LIMIT: '0',
      QUEUE_STREAM_RATE_LIMIT: '6',
      QUEUE_STREAM_ADDRESS_RATE_LIMIT: '700',
      TRUST_PROXY: '10.0.0.0/8, loopback',
      METRICS_TOKEN: 'm'.repeat(16),
      ADMIN_TOKEN: ` ${'a'.repeat(16)} `,
      LOG_FORMAT: 'pretty',
      PG_LATENCY_MS: '5',
      PG_TIMEOUT_MS: '100',
      PG_FAILURE_RATE: '0.1',
      PG_TIMEOUT_RATE: '0.2',
      PG_CHARGED_ON_TIMEOUT_RATE: '1',
      QUEUE_MAX_ACTIVE: '7',
      QUEUE_ADMIT_PER_TICK: '3',
      QUEUE_TICK_MS: '250',
      QUEUE_IDLE_TICK_MS: '2000',
      QUEUE_HEARTBEAT_TIMEOUT_MS: '5000',
      QUEUE_MAX_POLL_AFTER_MS: '20000',
      QUEUE_ACTIVE_TTL_MS: '60000',
      QUEUE_GRACE_MS: '2000',
      HOLD_TTL_MS: '120000',
      HOLD_GRACE_MS: '5000',
      SEATS_PER_USER_MAX: '6',
      SEAT_STATUS_CACHE_MS: '250',
      PAYMENT_RECOVERY_AFTER_MS: '5000',
      PAYMENT_RECOVERY_INTERVAL_MS: '500',
      HOLD_REAPER_MARGIN_MS: '3000',
      HOLD_REAPER_INTERVAL_MS: '700',
      OUTBOX_POLL_MS: '200',
      EVENTS_PUBLISH_WINDOW_MS: '40',
      OUTBOX_RETENTION_HOURS: '2',
    });
    expect(config).toEqual({
      port: 0,
      host: '0.0.0.0',
      listenBacklog: 8192,
      httpWorkers: 3,
      logLevel: 'debug',
      logFormat: 'pretty',
      tracesConsole: true,
      redis: {
        url: 'redis://10.0.0.1:6380',
        clusterNodes: undefined,
        sentinels: undefined,
        sentinelName: 'sentinels-name',
        prefix: 'shop',
      },
      database: {
        url: 'postgres://u@db/x',
        schema: 'booking',
        poolMax: 25,
        pgliteDataDir: undefined,
        seed: false,
      },
      auth: {
        jwtSecret: 's'.repeat(32),
        ttlSec: 60,
        streamTtlSec: 30,
        loginRateLimit: 0,
        metricsToken: 'm'.repeat(16),
        adminToken: 'a'.repeat(16),
      },
      trustProxy: '10.0.0.0/8, loopback',
      queueRateLimits: {
        joinPerUser: 5,
        joinPerAddress: 0,
        streamPerUser: 6,
        streamPerAddress: 700,
      },
      queue: {
        maxActive: 7,
        admitPerTick: 3,
        tickMs: 250,
        idleTickMs: 2000,
        heartbeatTimeoutMs: 5000,
        maxPollAfterMs: 20_000,
        activeTtlMs: 60_000,
        graceMs: 2000,
      },
      holds: { ttlMs: 120_000, graceMs: 5000 },
      seatsPerUserMax: 6,
      seatStatusCacheMs: 250,
      paymentRecovery: { afterMs: 5000, intervalMs: 500 },
      holdReaper: { marginMs: 3000, intervalMs: 700 },
      eventsPublishWindowMs: 40,
      outbox: { pollMs: 200, retentionMs: 7_200_000, redeliverAfterMs: 10_000 },
      paymentGateway: {
        latencyMs: 5,
        timeoutMs: 100,
        failureRate: 0.1,
        timeoutRate: 0.2,
        chargedOnTimeoutRate: 1,
      },
    });
  });

  it('names every invalid variable', () => {
    const error = (() => {
      try {
        loadConfig({
          PORT: 'eighty',
          PG_FAILURE_RATE: '2',
          JWT_SECRET: 'short',
          DATABASE_SCHEMA: 'Bad-Name',
          SEED_DEMO_DATA: 'maybe',
          HOLD_REAPER_INTERVAL_MS: '10',
          SEATS_PER_USER_MAX: '0',
          TRUST_PROXY: 'not-an-address',
          METRICS_TOKEN: 'short',
          ADMIN_TOKEN: 'a'.repeat(15),
          LOG_FORMAT: 'yaml',
        });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('config-invalid');
    const vars = error.problems.map((p) => p.split(':')[0]).sort();
    expect(vars).toEqual([
      'ADMIN_TOKEN',
      'DATABASE_SCHEMA',
      'HOLD_REAPER_INTERVAL_MS',
      'JWT_SECRET',
      'LOG_FORMAT',
      'METRICS_TOKEN',
      'PG_FAILURE_RATE',
      'PORT',
      'SEATS_PER_USER_MAX',
      'SEED_DEMO_DATA',
      'TRUST_PROXY',
    ]);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(() => loadConfig({ PG_FAILURE_RATE: '0.6', PG_TIMEOUT_RATE: '0.6' })).toThrow(
      /must not exceed 1/,
    );
    // Each worker process would get its own in-memory PGlite.
    expect(() => loadConfig({ HTTP_WORKERS: '2' })).toThrow(/HTTP_WORKERS: needs DATABASE_URL/);
  });
});

describe('Redis topology', () => {
  it('reads Cluster seed nodes and Sentinels as host:port lists', () => {
    expect(
      loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002' }).redis,
    ).toMatchObject({ clusterNodes: ['10.0.0.1:7000', 'redis-b:7001', '[::1]:7002'] });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379' }).redis).toMatchObject({
      url: undefined,
      sentinels: ['s1:26379', 's2:26379'],
      sentinelName: 'mymaster',
    });
  });

  it('refuses malformed lists and more than one topology', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis://a:1' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1,b' })).toThrow(/REDIS_SENTINELS/);
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 'a:26379' })).toThrow(
      /REDIS_URL, REDIS_SENTINELS: set at most one/,
    );
  });
});

describe('.env.example', () => {
  it('documents every variable the app reads, and only those', () => {
    const text = readFileSync(join(import.meta.dirname, '..', '.env.example'), 'utf8');
    const documented = [...text.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...new Set(documented)].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
