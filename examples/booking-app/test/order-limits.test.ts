import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { MIGRATIONS, migrate } from '../src/db/migrate.js';
import { PgDatabase } from '../src/db/pg-database.js';
import { PgliteDatabase } from '../src/db/pglite-database.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import {
  call,
  count,
  dbBackends,
  listen,
  POSTGRES_URL,
  randomSchema,
  SECRET,
  useDatabase,
} from './helpers.js';

// Per-product order limits (issue #15: the "1 per order" vinyl took an order of 5), on both
// database engines.

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];

describe.each(dbBackends)('order limits per product on $name', (backend) => {
  const fixture = useDatabase(backend, { seed: true });
  const redis = useRedis(standalone);
  const auth = new DemoAuth({ secret: SECRET });
  let http: Awaited<ReturnType<typeof listen>> | undefined;

  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  const serve = async () => {
    http = await listen(
      createApp({
        db: fixture.db,
        redis: redis.client,
        auth,
        metrics: new AppMetrics({ defaultMetrics: false }),
        logger: createLogger('silent'),
        redisPrefix: redis.prefix,
      }),
    );
    return http.base;
  };
  const vinylId = async () =>
    count(fixture.db, "SELECT id FROM products WHERE name = 'Signed vinyl'");
  const stockOf = (id: number) =>
    count(fixture.db, 'SELECT available FROM product_stock WHERE product_id = $1', [id]);

  it('400 names the line over the product’s max_per_order; nothing is taken', async () => {
    const base = await serve();
    const vinyl = await vinylId();
    const token = (await call(base, 'POST', '/auth/demo-login', { body: { name: 'fan' } })).body
      .token as string;
    const product = await call(base, 'GET', `/products/${vinyl}`);
    expect(product.body.product).toMatchObject({ name: 'Signed vinyl', maxPerOrder: 1 });
    expect((await call(base, 'GET', '/products/1')).body.product.maxPerOrder).toBeNull();

    const order = (items: unknown) => call(base, 'POST', '/orders', { token, body: { items } });
    const refused = await order([
      { productId: 1, quantity: 2 },
      { productId: vinyl, quantity: 5 },
    ]);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({
      code: 'order-limit-exceeded',
      field: 'items.1.quantity',
      productId: vinyl,
      limit: 1,
      requested: 5,
    });
    expect(refused.body.detail).toMatch(/items\.1\.quantity/);
    expect(refused.body.detail).toMatch(/Signed vinyl/);
    expect(await stockOf(vinyl)).toBe(20);
    expect(await stockOf(1)).toBe(500);

    const one = await order([{ productId: vinyl, quantity: 1 }]);
    expect(one.status).toBe(201);
    expect(await stockOf(vinyl)).toBe(19);
  });

  it('the migration sets the limit on a catalogue seeded before the column existed', async () => {
    const schema = randomSchema();
    // PGlite is one session (its search_path is the fixture's too): put it back afterwards.
    const old =
      backend.name === 'pglite'
        ? await PgliteDatabase.open({ instance: fixture.pglite, schema })
        : await PgDatabase.open({ url: POSTGRES_URL, schema });
    try {
      await migrate(
        old,
        MIGRATIONS.filter((m) => m.version <= 5),
      );
      await old.query(
        `INSERT INTO products (name, price_cents) VALUES ('Signed vinyl', 9000), ('Tote bag', 1500)`,
      );
      expect(await migrate(old)).toEqual(
        MIGRATIONS.filter((m) => m.version > 5).map((m) => m.version),
      );
      const { rows } = await old.query<{ name: string; max_per_order: number | null }>(
        'SELECT name, max_per_order FROM products ORDER BY id',
      );
      expect(rows).toEqual([
        { name: 'Signed vinyl', max_per_order: 1 },
        { name: 'Tote bag', max_per_order: null },
      ]);
    } finally {
      await old.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await old.close();
      if (backend.name === 'pglite')
        await fixture.db.exec(`SET search_path TO "${fixture.schema}"`);
    }
  });
});
