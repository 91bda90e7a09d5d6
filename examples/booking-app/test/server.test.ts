import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { call, POSTGRES_URL, randomSchema } from './helpers.js';
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
});
