import { randomUUID } from 'node:crypto';
import type { Database } from './database.js';

/** What {@link seedDemoData} created (zero everywhere when the data was already there). */
export interface SeedResult {
  concerts: number;
  seats: number;
  products: number;
  orders: number;
}

interface ConcertSeed {
  name: string;
  venue: string;
  startsInDays: number;
  rows: { label: string; seats: number; priceCents: number }[];
  blocked: string[];
}

const CONCERTS: ConcertSeed[] = [
  {
    name: 'Aurora Live',
    venue: 'Olympic Hall, Seoul',
    startsInDays: 30,
    rows: [
      { label: 'A', seats: 10, priceCents: 15_000 },
      { label: 'B', seats: 10, priceCents: 15_000 },
      { label: 'C', seats: 10, priceCents: 10_000 },
      { label: 'D', seats: 10, priceCents: 10_000 },
      { label: 'E', seats: 10, priceCents: 7_000 },
    ],
    // A camera platform: BLOCKED seats answer 400 when someone tries to reserve them.
    blocked: ['E9', 'E10'],
  },
  {
    name: 'Midnight Strings',
    venue: 'Arts Center Concert Hall',
    startsInDays: 45,
    rows: [
      { label: 'A', seats: 8, priceCents: 12_000 },
      { label: 'B', seats: 8, priceCents: 9_000 },
      { label: 'C', seats: 8, priceCents: 6_000 },
    ],
    blocked: [],
  },
  {
    name: 'Tiny Room Session',
    venue: 'Club FF',
    startsInDays: 7,
    rows: [{ label: 'A', seats: 4, priceCents: 5_000 }],
    blocked: [],
  },
];

/** A product of the demo shop; `maxPerOrder` limits the units of one order (none when absent). */
interface DemoProduct {
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  maxPerOrder?: number;
}

const PRODUCTS: DemoProduct[] = [
  {
    name: 'Tour T-shirt',
    description: 'Black, front and back print',
    priceCents: 3_500,
    stock: 500,
  },
  { name: 'Light stick', description: 'Official, Bluetooth sync', priceCents: 4_500, stock: 200 },
  {
    name: 'Signed vinyl',
    description: 'Limited drop, 1 per order',
    priceCents: 9_000,
    stock: 20,
    maxPerOrder: 1,
  },
  { name: 'Photo book', description: '120 pages', priceCents: 2_800, stock: 300 },
  { name: 'Tote bag', description: 'Canvas', priceCents: 1_500, stock: 1_000 },
  { name: 'Poster set', description: 'Three A2 posters', priceCents: 1_200, stock: 0 },
];

// Past sales so `/products/popular/exact` has something to rank: [product index, quantity, days ago].
const PAST_ORDERS: [number, number, number][] = [
  [0, 3, 0.2],
  [1, 2, 0.5],
  [0, 1, 1.1],
  [3, 1, 1.5],
  [1, 1, 2.2],
  [0, 2, 2.6],
  [4, 4, 1.0],
  [2, 1, 0.1],
  [3, 5, 4.0], // older than 3 days: counts for ?days=7, not for ?days=3
  [4, 10, 5.5],
];

/**
 * Insert the demo catalogue (concerts with seat maps, products with stock, a little order
 * history) unless concerts already exist. Serialised by an advisory lock, so two instances starting
 * together seed once.
 */
export function seedDemoData(db: Database): Promise<SeedResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [7_270_002]);
    const existing = await tx.query('SELECT 1 FROM concerts LIMIT 1');
    const result: SeedResult = { concerts: 0, seats: 0, products: 0, orders: 0 };
    if (existing.rowCount > 0) return result;

    // Set-based inserts (a handful of statements, whatever the catalogue size).
    for (const concert of CONCERTS) {
      const { rows } = await tx.query<{ id: number }>(
        `INSERT INTO concerts (name, venue, starts_at, sales_open_at)
         VALUES ($1, $2, now() + make_interval(days => $3), now() - interval '1 hour')
         RETURNING id`,
        [concert.name, concert.venue, concert.startsInDays],
      );
      const concertId = (rows[0] as { id: number }).id;
      result.concerts++;
      const inserted = await tx.query(
        `INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
         SELECT $1, 'Floor', r.label, n, r.label || n, r.price,
                CASE WHEN (r.label || n) = ANY ($5::text[]) THEN 'BLOCKED' ELSE 'AVAILABLE' END
         FROM unnest($2::text[], $3::int[], $4::int[]) AS r(label, seats, price),
              generate_series(1, r.seats) AS n
         ORDER BY r.label, n`,
        [
          concertId,
          concert.rows.map((r) => r.label),
          concert.rows.map((r) => r.seats),
          concert.rows.map((r) => r.priceCents),
          concert.blocked,
        ],
      );
      result.seats += inserted.rowCount;
    }

    const { rows: products } = await tx.query<{ id: number; name: string }>(
      `INSERT INTO products (name, description, price_cents, max_per_order)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
       RETURNING id, name`,
      [
        PRODUCTS.map((p) => p.name),
        PRODUCTS.map((p) => p.description),
        PRODUCTS.map((p) => p.priceCents),
        PRODUCTS.map((p) => p.maxPerOrder ?? null),
      ],
    );
    const idOf = new Map(products.map((p) => [p.name, p.id]));
    const productIds = PRODUCTS.map((p) => idOf.get(p.name) as number);
    await tx.query(
      'INSERT INTO product_stock (product_id, available) SELECT * FROM unnest($1::int[], $2::int[])',
      [productIds, PRODUCTS.map((p) => p.stock)],
    );
    result.products = productIds.length;

    const { rows: shopper } = await tx.query<{ id: number }>(
      `INSERT INTO users (name) VALUES ('demo-shopper')
       ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
    );
    const userId = (shopper[0] as { id: number }).id;
    const lines = PAST_ORDERS.map(([index, quantity, daysAgo]) => {
      const product = PRODUCTS[index] as (typeof PRODUCTS)[number];
      return {
        orderId: randomUUID(),
        productId: productIds[index] as number,
        quantity,
        price: product.priceCents,
        secondsAgo: Math.round(daysAgo * 86_400),
      };
    });
    await tx.query(
      `INSERT INTO orders (id, user_id, total_cents, created_at)
       SELECT o.id, $1, o.total, now() - make_interval(secs => o.secs)
       FROM unnest($2::uuid[], $3::int[], $4::int[]) AS o(id, total, secs)`,
      [
        userId,
        lines.map((l) => l.orderId),
        lines.map((l) => l.price * l.quantity),
        lines.map((l) => l.secondsAgo),
      ],
    );
    const orders = await tx.query(
      `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[])`,
      [
        lines.map((l) => l.orderId),
        lines.map((l) => l.productId),
        lines.map((l) => l.quantity),
        lines.map((l) => l.price),
      ],
    );
    result.orders = orders.rowCount;
    return result;
  });
}
