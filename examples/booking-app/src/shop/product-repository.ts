import type { Database } from '../db/database.js';

/** A product with its stock left. Prices are integer cents. */
export interface Product {
  id: number;
  name: string;
  description: string;
  price: number;
  currency: 'USD';
  stock: number;
  /** Most units one order may take, or null (only the stock limits it). */
  maxPerOrder: number | null;
}

/** One line of the exact popularity ranking. */
export interface PopularProduct {
  id: number;
  name: string;
  /** Units sold in the window. */
  sold: number;
  orders: number;
}

interface ProductRow {
  id: number;
  name: string;
  description: string;
  price_cents: number;
  available: number;
  max_per_order: number | null;
}

const toProduct = (r: ProductRow): Product => ({
  id: r.id,
  name: r.name,
  description: r.description,
  price: r.price_cents,
  currency: 'USD',
  stock: r.available,
  maxPerOrder: r.max_per_order,
});

/** Products, stock and the exact (SQL) popularity ranking. */
export class ProductRepository {
  constructor(private readonly db: Database) {}

  /** Every product with its stock, by id. */
  async list(): Promise<Product[]> {
    const { rows } = await this.db.query<ProductRow>(
      `SELECT p.id, p.name, p.description, p.price_cents, s.available, p.max_per_order
       FROM products p JOIN product_stock s ON s.product_id = p.id ORDER BY p.id`,
    );
    return rows.map(toProduct);
  }

  /** One product, or null when unknown. */
  async get(id: number): Promise<Product | null> {
    const { rows } = await this.db.query<ProductRow>(
      `SELECT p.id, p.name, p.description, p.price_cents, s.available, p.max_per_order
       FROM products p JOIN product_stock s ON s.product_id = p.id WHERE p.id = $1`,
      [id],
    );
    return rows[0] ? toProduct(rows[0]) : null;
  }

  /**
   * Best sellers by units over the last `days` days, counted exactly from `order_items`. This scans
   * the window's orders on every call — what the notes say does not scale, and what the sketch-based
   * `/products/popular` will be compared against. Ties: more orders first, then lower id.
   */
  async popularExact(days: number, limit: number): Promise<PopularProduct[]> {
    const { rows } = await this.db.query<PopularProduct>(
      `SELECT p.id, p.name, sum(i.quantity)::int AS sold, count(DISTINCT o.id)::int AS orders
       FROM orders o
       JOIN order_items i ON i.order_id = o.id
       JOIN products p ON p.id = i.product_id
       WHERE o.status = 'PLACED' AND o.created_at >= now() - make_interval(days => $1)
       GROUP BY p.id, p.name
       ORDER BY sold DESC, orders DESC, p.id
       LIMIT $2`,
      [days, limit],
    );
    return rows;
  }
}
