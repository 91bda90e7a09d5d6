import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { call, POSTGRES_URL, randomSchema, waitFor } from './helpers.js';
import { children, killServers, serverJs, start, stopped } from './server-process.js';

afterEach(killServers);

describe('dist/server.js', () => {
  it('is built', () => {
    expect(existsSync(serverJs), 'run `npx tsup` in examples/booking-app (npm test does)').toBe(
      true,
    );
  });

  it('starts with nothing configured (PGlite, Redis found by local-redis), prints its URL, stops on SIGTERM', async () => {
    const { child, url, output } = await start({});
    expect(url).toMatch(/^http:\/\/localhost:\d+$/);
    const ready = await call(url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    const concerts = await call(url, 'GET', '/concerts');
    expect(concerts.body.concerts.length).toBe(3);
    expect(output()).toMatch(/JWT_SECRET is not set/);
    child.kill('SIGTERM');
    expect(await stopped(child)).toBe(0);
  });

  it('uses DATABASE_URL when set, in DATABASE_SCHEMA', async () => {
    const schema = randomSchema();
    try {
      const { child, url } = await start({ DATABASE_URL: POSTGRES_URL, DATABASE_SCHEMA: schema });
      const root = await call(url, 'GET', '/');
      expect(root.body.database).toMatch(new RegExp(`PostgreSQL .*schema ${schema}`));
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      try {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}".concerts`,
        );
        expect(rows[0]?.n).toBe(3);
      } finally {
        await admin.close();
      }
      child.kill('SIGTERM');
      expect(await stopped(child)).toBe(0);
    } finally {
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    }
  });

  it('never shows or logs the user or password of REDIS_URL or DATABASE_URL', async () => {
    const schema = randomSchema();
    // Redis on 6379 has no password (ioredis only warns) and PostgreSQL trusts: both connect.
    const dbUrl = POSTGRES_URL.replace('postgres://postgres@', 'postgres://postgres:pg-s3cret@');
    try {
      const { child, url, output } = await start({
        REDIS_URL: 'redis://:redis-s3cret@127.0.0.1:6379',
        DATABASE_URL: `${dbUrl}?application_name=x&password=q-s3cret`,
        DATABASE_SCHEMA: schema,
        LOG_LEVEL: 'info',
      });
      const root = await call(url, 'GET', '/');
      expect(root.body.redis).toBe('redis://127.0.0.1:6379 (env)');
      expect(root.body.database).toBe(
        `PostgreSQL postgres://127.0.0.1:5432/test, schema ${schema}`,
      );
      expect(output()).toMatch(/"msg":"listening"/);
      expect(output()).not.toMatch(/s3cret|\/\/postgres[:@]/);
      expect(JSON.stringify(root.body)).not.toMatch(/s3cret|\/\/postgres[:@]/);
      child.kill('SIGTERM');
      expect(await stopped(child)).toBe(0);
    } finally {
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    }
  });

  it('refuses an invalid environment with a message naming the variable', async () => {
    const child = spawn(process.execPath, [serverJs], {
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    expect(await stopped(child)).toBe(1);
    expect(err).toMatch(/PORT/);
  });

  it('HTTP_WORKERS: a primary hands connections to workers, replaces one that dies, stops them all on SIGTERM', async () => {
    const schema = randomSchema();
    const workersOf = (pid: number | undefined) =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    try {
      const { child, url, output } = await start({
        DATABASE_URL: POSTGRES_URL,
        DATABASE_SCHEMA: schema,
        HTTP_WORKERS: '2',
      });
      // Both workers listen on the one port the primary holds (node:cluster round robin). Wait for
      // both to say so: `start` returns at the first, and a worker killed before it listened stops
      // the whole server by design (a start-up error must not be retried forever).
      await waitFor(
        async () => output().match(/listening on /g)?.length ?? 0,
        (n) => n >= 2,
      ).catch((error: Error) => {
        throw new Error(`${error.message}\nserver output:\n${output()}`);
      });
      const workers = await waitFor(
        async () => workersOf(child.pid),
        (pids) => pids.length === 2,
      );
      const served = await Promise.all(
        Array.from({ length: 8 }, () => call(url, 'GET', '/concerts')),
      );
      for (const res of served) expect(res.body.concerts.length).toBe(3);
      process.kill(Number(workers[0]), 'SIGKILL');
      const replaced = await waitFor(
        async () => workersOf(child.pid),
        (pids) => pids.length === 2 && !pids.includes(workers[0] as string),
      );
      expect(replaced).toContain(workers[1]);
      expect((await call(url, 'GET', '/readyz')).status).toBe(200);
      child.kill('SIGTERM');
      expect(await stopped(child)).toBe(0);
      for (const pid of replaced) expect(existsSync(`/proc/${pid}/stat`)).toBe(false);
    } finally {
      const admin = await PgDatabase.open({ url: POSTGRES_URL });
      await admin.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.close();
    }
  });
});
