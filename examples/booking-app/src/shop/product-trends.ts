import type { RedisClient } from '@boxoffice/internal';
import { HASH_VERSION, Trending, type TrendingItem } from '@boxoffice/sketch';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

/** The longest window `GET /products/popular?days=` can ask for (the SQL reference allows the same). */
export const MAX_DAYS = 30;

/**
 * Product views and sales in two `@boxoffice/sketch` Trendings (hourly buckets over 30 days, shared
 * by every instance). Views are deduplicated per viewer and hour (`dedupeBy`); sales count units.
 * Recording never fails a request: a Redis error is logged and the event is lost (the ranking is an
 * estimate anyway; `/products/popular/exact` stays the SQL truth).
 */
export class ProductTrends {
  readonly views: Trending;
  readonly sales: Trending;

  constructor(
    client: RedisClient,
    private readonly options: { prefix: string; logger: Logger },
  ) {
    // The hash version is part of the names: a sketch upgrade that changes how items map to
    // counters starts fresh sketches (the sales one is backfilled from the orders at start-up)
    // instead of refusing to start on the old layout.
    const common = {
      prefix: `${options.prefix}:${HASH_VERSION}`,
      window: { days: MAX_DAYS },
      bucket: { hours: 1 },
    };
    // One Bloom filter per hourly bucket dedupes (product, viewer) pairs; sized for the pairs one
    // hour of this shop sees (20,000: ~35 KiB per bucket) rather than the 100,000 default (176 KiB).
    this.views = new Trending(client, {
      ...common,
      name: 'product-views',
      dedupe: { capacity: 20_000, errorRate: 0.001 },
    });
    this.sales = new Trending(client, { ...common, name: 'product-sales' });
  }

  /** A view of `productId` by `viewer` (a user id or, anonymous, the client address). */
  async view(productId: number, viewer: string): Promise<void> {
    await this.views
      .record(productId, 1, { dedupeBy: viewer })
      .catch((error) => this.options.logger.warn({ err: error }, 'trending view not recorded'));
  }

  /** Units sold by one order. */
  async sold(lines: { productId: number; quantity: number }[], at?: Date): Promise<void> {
    await this.sales
      .recordMany(lines.map((l) => [l.productId, l.quantity, at ? { at } : {}] as const))
      .catch((error) => this.options.logger.warn({ err: error }, 'trending sale not recorded'));
  }

  /** Top `limit` products of the last `days` days by `metric`. */
  top(metric: 'sales' | 'views', days: number, limit: number): Promise<TrendingItem[]> {
    return this[metric].top(limit, { window: { days } });
  }

  /**
   * Feed the sales sketch from the order history of the last {@link MAX_DAYS} days (with their
   * times), e.g. right after seeding. Returns the number of order lines recorded.
   */
  async backfill(db: Database): Promise<number> {
    const { rows } = await db.query<{ product_id: number; quantity: number; created_at: Date }>(
      `SELECT i.product_id, i.quantity, o.created_at FROM order_items i JOIN orders o ON o.id = i.order_id
       WHERE o.status = 'PLACED' AND o.created_at > now() - interval '${MAX_DAYS} days'`,
    );
    for (let i = 0; i < rows.length; i += 500) {
      await this.sales.recordMany(
        rows
          .slice(i, i + 500)
          .map((r) => [r.product_id, r.quantity, { at: r.created_at }] as const),
      );
    }
    return rows.length;
  }
}
