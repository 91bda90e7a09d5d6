import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redisTargets } from '@boxoffice/local-redis/testing';
import { PGlite } from '@electric-sql/pglite';
import type { Express } from 'express';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { Database } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { PgliteDatabase } from '../src/db/pglite-database.js';
import { seedDemoData } from '../src/db/seed.js';

/** The PostgreSQL server the `postgres` backend tests use (trust auth, database `test`). */
export const POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The JWT secret the flow suites sign with. */
export const SECRET = 'test-secret-test-secret-test-secret!';

/**
 * The (database, Redis) pairings the flow suites run on: both database engines and both Redis
 * targets (the fourth pairing, PostgreSQL with Cluster, adds time, not coverage).
 */
export function flowCombos() {
  const [standalone, cluster] = redisTargets();
  const [pglite, postgres] = dbBackends;
  if (!standalone || !cluster || !pglite || !postgres) throw new Error('missing a test target');
  return [
    { db: pglite, redis: standalone, name: 'pglite + standalone' },
    { db: pglite, redis: cluster, name: 'pglite + cluster' },
    { db: postgres, redis: standalone, name: 'postgres + standalone' },
  ];
}

/** A database engine every DB suite runs on. */
export interface DbBackend {
  readonly name: 'pglite' | 'postgres';
}

/** Both engines: embedded PGlite and a PostgreSQL server through `pg`. */
export const dbBackends: DbBackend[] = [{ name: 'pglite' }, { name: 'postgres' }];

/** A fresh schema name, unique to one test. */
export const randomSchema = () => `t_${randomBytes(6).toString('hex')}`;

/** Per-test database access set up by {@link useDatabase}. */
export interface DbFixture {
  /** This test's database: its own schema, migrated (and seeded when asked). */
  readonly db: Database;
  readonly schema: string;
  /** The shared PGlite of the block (pglite backend only). */
  readonly pglite: PGlite | undefined;
  /** For postgres a second pool on the same schema (closed after the test); for PGlite `db` itself. */
  another(): Promise<Database>;
}

/**
 * Registers hooks: for every test a new schema, migrated (and seeded with `seed: true`), dropped
 * after the test. PGlite tests share one in-memory instance per describe block (tests in a file run
 * one after another, so each owns the search_path while it runs).
 */
export function useDatabase(backend: DbBackend, options: { seed?: boolean } = {}): DbFixture {
  let instance: PGlite | undefined;
  let db: Database | undefined;
  let schema = '';
  const extra: Database[] = [];
  const open = (s: string) =>
    backend.name === 'pglite'
      ? PgliteDatabase.open({ instance, schema: s })
      : PgDatabase.open({ url: POSTGRES_URL, schema: s, poolMax: 20 });

  beforeAll(async () => {
    if (backend.name === 'pglite') instance = await PGlite.create();
  });
  beforeEach(async () => {
    schema = randomSchema();
    db = await open(schema);
    await migrate(db);
    if (options.seed) await seedDemoData(db);
  });
  afterEach(async () => {
    for (const d of extra.splice(0)) await d.close();
    if (db) {
      await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await db.close();
      db = undefined;
    }
  });
  afterAll(async () => {
    await instance?.close();
  });

  return {
    get db() {
      if (!db) throw new Error('useDatabase: db is only available inside tests');
      return db;
    },
    get schema() {
      return schema;
    },
    get pglite() {
      return instance;
    },
    async another() {
      // PGlite is one session: a second wrapper would not share the first one's turn queue.
      if (backend.name === 'pglite') return this.db;
      const d = await open(schema);
      extra.push(d);
      return d;
    },
  };
}

/** Serve `app` on a free port of 127.0.0.1. */
export async function listen(app: Express): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Count rows with plain SQL (assertions read the database directly, not through the app). */
export async function count(db: Database, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT (${sql})::int AS n`, params);
  return (rows[0] as { n: number }).n;
}

/** POST/GET JSON helper: returns status, headers and the parsed body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    token?: string;
    headers?: Record<string, string>;
  } = {},
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on the body field by field
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    body: /json/.test(type) && text ? JSON.parse(text) : text,
  };
}

/** Assert that `res` (from {@link call}) is an RFC 9457 problem with `status` and `code`. */
export function expectProblem(
  res: { status: number; headers: Headers; body: Record<string, unknown> },
  status: number,
  code: string,
): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: `urn:boxoffice:problem:${code}` });
  expect(typeof res.body.title).toBe('string');
}

/** Poll `fn` until `done(value)` holds (generous deadline: the machine is shared), then return it. */
export async function waitFor<T>(
  fn: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`waitFor: condition not met; last value ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A stream token of concert `concertId` for the user of `userToken` (what the page puts in its EventSource URL). */
export async function streamToken(
  base: string,
  userToken: string,
  concertId: number,
): Promise<string> {
  const res = await call(base, 'POST', `/concerts/${concertId}/queue/stream-token`, {
    token: userToken,
  });
  if (res.status !== 200)
    throw new Error(`stream-token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.token as string;
}
