import { freePort } from '@boxoffice/local-redis';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../src/db/migrate.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { PgliteDatabase } from '../src/db/pglite-database.js';
import { seedDemoData } from '../src/db/seed.js';
import { DatabaseUnavailableError } from '../src/errors.js';
import { count, dbBackends, POSTGRES_URL, randomSchema, useDatabase } from './helpers.js';

describe.each(dbBackends)('database layer on $name', (backend) => {
  const fixture = useDatabase(backend);

  it('applies every migration once and records it', async () => {
    const { db } = fixture;
    const { rows } = await db.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await migrate(db)).toEqual([]);
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      [fixture.schema],
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'business_events',
      'concerts',
      'mock_pg_charges',
      'order_items',
      'orders',
      'outbox',
      'outbox_deliveries',
      'payments',
      'product_stock',
      'products',
      'reservation_seats',
      'reservations',
      'schema_migrations',
      'seats',
      'users',
    ]);
  });

  it('keeps each schema separate: a fresh schema migrates from scratch', async () => {
    const other = randomSchema();
    // On PGlite the second schema lives in the same instance (it moves the session's search_path,
    // hence the schema-qualified count below).
    const db2 =
      backend.name === 'pglite'
        ? await PgliteDatabase.open({ schema: other, instance: fixture.pglite })
        : await PgDatabase.open({ url: POSTGRES_URL, schema: other });
    try {
      expect(await migrate(db2)).toEqual(MIGRATIONS.map((m) => m.version));
      await db2.query("INSERT INTO users (name) VALUES ('only-in-other')");
      expect(await count(db2, "SELECT count(*) FROM users WHERE name = 'only-in-other'")).toBe(1);
      expect(
        await count(
          fixture.db,
          `SELECT count(*) FROM "${fixture.schema}".users WHERE name = 'only-in-other'`,
        ),
      ).toBe(0);
    } finally {
      await db2.exec(`DROP SCHEMA "${other}" CASCADE`);
      await db2.close();
    }
  });

  it('seeds the demo data once, even when asked twice at the same time', async () => {
    const { db } = fixture;
    const another = backend.name === 'postgres' ? await fixture.another() : db;
    const [a, b] = await Promise.all([seedDemoData(db), seedDemoData(another)]);
    expect([a.concerts, b.concerts].sort()).toEqual([0, 3]);
    expect(await count(db, 'SELECT count(*) FROM concerts')).toBe(3);
    expect(await count(db, 'SELECT count(*) FROM seats')).toBe(78);
    expect(await count(db, "SELECT count(*) FROM seats WHERE status = 'BLOCKED'")).toBe(2);
    expect(await count(db, 'SELECT count(*) FROM product_stock')).toBe(6);
  });

  it('migrates once when two instances start together', async () => {
    const schema = randomSchema();
    const [x, y] =
      backend.name === 'postgres'
        ? await Promise.all([
            PgDatabase.open({ url: POSTGRES_URL, schema }),
            PgDatabase.open({ url: POSTGRES_URL, schema }),
          ])
        : await (async () => {
            const d = await PgliteDatabase.open({ schema, instance: fixture.pglite });
            return [d, d];
          })();
    try {
      const [ax, ay] = await Promise.all([migrate(x), migrate(y)]);
      expect([...ax, ...ay].sort()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await count(x, 'SELECT count(*) FROM schema_migrations')).toBe(MIGRATIONS.length);
    } finally {
      await x.exec(`DROP SCHEMA "${schema}" CASCADE`);
      await x.close();
      if (y !== x) await y.close();
    }
  });

  it('rolls a failed transaction back completely', async () => {
    const { db } = fixture;
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO users (name) VALUES ('rolled-back')");
        await tx.query('SELECT 1 / 0');
      }),
    ).rejects.toThrow(/division by zero/);
    expect(await count(db, "SELECT count(*) FROM users WHERE name = 'rolled-back'")).toBe(0);
  });

  it('enforces the seat and stock invariants in the schema', async () => {
    const { db } = fixture;
    await seedDemoData(db);
    // A HELD seat must belong to a reservation.
    await expect(db.query("UPDATE seats SET status = 'HELD' WHERE id = 1")).rejects.toThrow(
      /check constraint/,
    );
    await expect(db.query("UPDATE seats SET status = 'SOLD' WHERE id = 1")).rejects.toThrow(
      /check constraint/,
    );
    await expect(
      db.query('UPDATE product_stock SET available = -1 WHERE product_id = 1'),
    ).rejects.toThrow(/check constraint/);
    await expect(
      db.query(
        "INSERT INTO reservations (user_id, concert_id, fence, amount_cents, expires_at, status) VALUES (1, 1, 1, 1, now(), 'PAID')",
      ),
    ).rejects.toThrow(/check constraint|foreign key/);
  });
});

describe('database unavailable', () => {
  it('a pg pool whose server does not answer throws DatabaseUnavailableError', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    await expect(PgDatabase.open({ url, connectTimeoutMs: 2000 })).rejects.toBeInstanceOf(
      DatabaseUnavailableError,
    );
  });

  it('rejects a schema name that is not a plain identifier before connecting', async () => {
    await expect(PgliteDatabase.open({ schema: 'x"; DROP TABLE users; --' })).rejects.toThrow(
      RangeError,
    );
  });
});
