import type { Database } from '../db/database.js';
import { InsufficientStockError, NotFoundError, OrderLimitExceededError } from '../errors.js';
import type { EventLog } from '../events/event-log.js';

/** One line of an order request. */
export interface OrderLine {
  productId: number;
  quantity: number;
}

/** A placed order. Prices are integer cents. */
export interface Order {
  id: string;
  userId: number;
  status: 'PLACED';
  total: number;
  currency: 'USD';
  items: { productId: number; quantity: number; unitPrice: number }[];
  createdAt: string;
}

/**
 * Places orders. Stock is taken with one conditional UPDATE per line
 * (`SET available = available - q WHERE available >= q`): PostgreSQL row-locks the stock row and
 * re-checks the condition after any concurrent writer commits, so two orders can never both take
 * the last unit — no application lock, no read-then-write race. Lines are taken in product-id
 * order so two multi-line orders cannot deadlock, and the whole order is one transaction: either
 * every line is decremented and recorded, or nothing is.
 */
export class OrderService {
  constructor(
    private readonly db: Database,
    private readonly events: EventLog,
  ) {}

  /**
   * Place an order for `userId`.
   * @throws NotFoundError for an unknown product; OrderLimitExceededError when a line asks for more
   * than the product's `max_per_order`; InsufficientStockError when a line asks for more than is
   * left (nothing changed either way); RangeError for an empty order or duplicate products.
   */
  async place(userId: number, lines: OrderLine[]): Promise<Order> {
    if (lines.length === 0) throw new RangeError('an order needs at least one line');
    const sorted = [...lines].sort((a, b) => a.productId - b.productId);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]?.productId === sorted[i - 1]?.productId) {
        throw new RangeError(`product ${sorted[i]?.productId} appears twice in one order`);
      }
    }
    try {
      const order = await this.db.transaction(async (tx) => {
        // Per-product limits first, by the line as the request numbers it, before any stock moves.
        const { rows: limits } = await tx.query<{ id: number; name: string; max: number }>(
          `SELECT id, name, max_per_order AS max FROM products
           WHERE id = ANY($1::int[]) AND max_per_order IS NOT NULL`,
          [lines.map((l) => l.productId)],
        );
        const limitOf = new Map(limits.map((p) => [p.id, p]));
        lines.forEach((line, i) => {
          const limited = limitOf.get(line.productId);
          if (limited && line.quantity > limited.max) {
            throw new OrderLimitExceededError(
              i,
              line.productId,
              limited.name,
              limited.max,
              line.quantity,
            );
          }
        });
        const items: Order['items'] = [];
        for (const line of sorted) {
          const taken = await tx.query<{ price_cents: number }>(
            `UPDATE product_stock s SET available = s.available - $2, updated_at = now()
             FROM products p
             WHERE s.product_id = $1 AND p.id = s.product_id AND s.available >= $2
             RETURNING p.price_cents`,
            [line.productId, line.quantity],
          );
          const row = taken.rows[0];
          if (!row) {
            const exists = await tx.query('SELECT 1 FROM products WHERE id = $1', [line.productId]);
            if (exists.rowCount === 0) throw new NotFoundError('product', line.productId);
            throw new InsufficientStockError(line.productId, line.quantity);
          }
          items.push({
            productId: line.productId,
            quantity: line.quantity,
            unitPrice: row.price_cents,
          });
        }
        const total = items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0);
        const { rows } = await tx.query<{ id: string; created_at: Date }>(
          'INSERT INTO orders (user_id, total_cents) VALUES ($1, $2) RETURNING id, created_at',
          [userId, total],
        );
        const created = rows[0] as { id: string; created_at: Date };
        for (const item of items) {
          await tx.query(
            `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
             VALUES ($1, $2, $3, $4)`,
            [created.id, item.productId, item.quantity, item.unitPrice],
          );
        }
        await this.events.record(
          {
            type: 'order.placed',
            outcome: 'success',
            userId,
            subject: `order:${created.id}`,
            data: { items, total },
          },
          tx,
        );
        return {
          id: created.id,
          userId,
          status: 'PLACED' as const,
          total,
          currency: 'USD' as const,
          items,
          createdAt: created.created_at.toISOString(),
        };
      });
      return order;
    } catch (error) {
      if (
        error instanceof InsufficientStockError ||
        error instanceof NotFoundError ||
        error instanceof OrderLimitExceededError
      ) {
        await this.events.record({
          type: 'order.placed',
          outcome: 'failure',
          reason: error.code,
          userId,
          subject: `product:${error instanceof NotFoundError ? error.id : error.productId}`,
          data: { lines: sorted },
        });
      }
      throw error;
    }
  }

  /** The order `id` if it belongs to `userId`, else null (another user's order is not revealed). */
  async get(id: string, userId: number): Promise<Order | null> {
    const { rows } = await this.db.query<{
      id: string;
      user_id: number;
      total_cents: number;
      created_at: Date;
    }>(
      `SELECT id, user_id, total_cents, created_at FROM orders
       WHERE id = $1 AND user_id = $2 AND status = 'PLACED'`,
      [id, userId],
    );
    const row = rows[0];
    if (!row) return null;
    const items = await this.db.query<{ productId: number; quantity: number; unitPrice: number }>(
      `SELECT product_id AS "productId", quantity, unit_price_cents AS "unitPrice"
       FROM order_items WHERE order_id = $1 ORDER BY product_id`,
      [id],
    );
    return {
      id: row.id,
      userId: row.user_id,
      status: 'PLACED',
      total: row.total_cents,
      currency: 'USD',
      items: items.rows,
      createdAt: row.created_at.toISOString(),
    };
  }
}
