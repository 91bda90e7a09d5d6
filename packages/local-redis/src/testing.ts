import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, inject } from 'vitest';
import type { ClusterNodeAddress } from './cluster.js';
import { freePort } from './free-port.js';
import { deleteByPrefix, type RedisClient } from './keys.js';

export { deleteByPrefix, type RedisClient, scanKeys } from './keys.js';

/** What the global setup hands to every test file. */
export interface ProvidedRedis {
  standaloneUrl: string;
  clusterNodes: ClusterNodeAddress[];
}

declare module 'vitest' {
  interface ProvidedContext {
    boxofficeRedis: ProvidedRedis;
  }
}

/** Client options a suite may vary; the rest are ioredis defaults. */
export interface ClientOptions {
  enableAutoPipelining?: boolean;
}

/** A deployment a shared suite runs against. */
export interface RedisTarget {
  readonly name: 'standalone' | 'cluster';
  /** A new client; the caller closes it (or let {@link useRedis} do it). */
  connect(options?: ClientOptions): RedisClient;
}

function provided(): ProvidedRedis {
  const value = inject('boxofficeRedis');
  if (!value) {
    throw new Error(
      'boxofficeRedis was not provided: run tests from the repository root (`npm test`), whose ' +
        'vitest config registers @boxoffice/local-redis/global-setup',
    );
  }
  return value;
}

/**
 * The deployments every package suite must pass on: a standalone Redis and a 3-master Cluster.
 * Use as `describe.each(redisTargets())('$name', (target) => { ... })`.
 */
export function redisTargets(): RedisTarget[] {
  const { standaloneUrl, clusterNodes } = provided();
  return [
    { name: 'standalone', connect: (options = {}) => new Redis(standaloneUrl, options) },
    { name: 'cluster', connect: (options = {}) => new Cluster(clusterNodes, options) },
  ];
}

/** A fresh key prefix, unique to one test: `t` + 12 hex digits. */
export function randomPrefix(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

/** Per-test Redis access set up by {@link useRedis}. */
export interface RedisFixture {
  /** The shared client of this describe block. */
  readonly client: RedisClient;
  /** This test's own key prefix; everything under it is deleted after the test. */
  readonly prefix: string;
  /** Another client to the same deployment, closed after the describe block. */
  connect(options?: ClientOptions): RedisClient;
}

/**
 * Registers hooks in the current describe block: one client for the block, a new random prefix for
 * each test, and after each test the deletion of that prefix's keys only (never a FLUSHALL).
 */
export function useRedis(target: RedisTarget): RedisFixture {
  let client: RedisClient | undefined;
  let prefix = '';
  const extra: RedisClient[] = [];

  beforeAll(() => {
    client = target.connect();
  });
  beforeEach(() => {
    prefix = randomPrefix();
  });
  afterEach(async () => {
    if (client) await deleteByPrefix(client, prefix);
  });
  afterAll(async () => {
    await Promise.all([client, ...extra].map((c) => c?.quit().catch(() => c.disconnect())));
  });

  return {
    get client() {
      if (!client) throw new Error('useRedis: client is only available inside tests and hooks');
      return client;
    },
    get prefix() {
      return prefix;
    },
    connect(options) {
      const c = target.connect(options);
      extra.push(c);
      return c;
    },
  };
}

/**
 * A client of a Redis that is not there: a closed local port, no offline queue, no reconnection.
 * Every command fails at once (`Stream isn't writeable…`), the way an outage reaches a package
 * whose client fails fast, so a test asserts the package's typed Redis failure without waiting.
 * Close it with `disconnect()`.
 */
export async function unreachableClient(): Promise<Redis> {
  const client = new Redis({
    host: '127.0.0.1',
    port: await freePort(),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
}

/** A TCP server that accepts connections and never answers (see {@link silentRedis}). */
export interface SilentRedis {
  readonly port: number;
  /** A client of it with ioredis defaults (connected, as far as ioredis can tell); closed by `close()`. */
  client(): Redis;
  /** Drop every connection, stop listening and disconnect the clients made by `client()`. */
  close(): Promise<void>;
}

/**
 * A "Redis" that accepts connections and never answers: the TCP handshake succeeds, so ioredis sends
 * every command and waits for a reply that never comes — what a hung or partitioned Redis looks like.
 * A package's call on it must fail within its `commandTimeoutMs` with kind `timeout`, and its
 * `stop()`/`close()` must still finish. Close it with `close()`.
 */
export async function silentRedis(): Promise<SilentRedis> {
  const sockets = new Set<Socket>();
  const clients: Redis[] = [];
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    client() {
      // No ready check: ioredis would wait for the INFO reply before sending anything.
      const c = new Redis({ host: '127.0.0.1', port, enableReadyCheck: false });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients.splice(0)) c.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A client with ioredis defaults (offline queue, retries) of a Redis that is not there, resolved
 * once it is `reconnecting`: the state in which ioredis would queue a command for ~20 retries
 * (over a minute) before failing it, and a package must fail it at once, kind `unavailable`.
 * Close it with `disconnect()`.
 */
export async function reconnectingClient(): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port: await freePort() });
  client.on('error', () => {});
  if (client.status !== 'reconnecting') {
    await new Promise<void>((resolve) => client.once('reconnecting', () => resolve()));
  }
  return client;
}

/** How `call` failed (its rejection; undefined if it resolved) and how long it took, in ms. */
export async function timedFailure(
  call: () => Promise<unknown>,
): Promise<{ error: unknown; ms: number }> {
  const start = Date.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - start };
}

/** How long `call` took to resolve, in ms. */
export async function timed(call: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  await call();
  return Date.now() - start;
}
