import { Router } from 'express';
import { z } from 'zod';
import { bearerToken } from '../auth/require-user.js';
import type { UserSessions } from '../auth/user-sessions.js';
import { NotFoundError } from '../errors.js';
import { idParam, intQuery } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { ProductRepository } from './product-repository.js';
import type { ProductTrends } from './product-trends.js';

const params = z.object({ id: idParam });
const popularQuery = z.object({ days: intQuery(1, 30, 3), limit: intQuery(1, 100, 10) });
const sketchQuery = popularQuery.extend({
  by: z.enum(['sales', 'views']).optional().default('sales'),
});

/**
 * Products and stock; `GET /products/:id` records a view in the trending sketch (once per user and
 * hour); popularity from the sketch (`/products/popular`) and exactly from SQL (`/popular/exact`).
 */
export function productRoutes(deps: {
  products: ProductRepository;
  trends: ProductTrends;
  auth: UserSessions;
}): Router {
  const router = Router();

  router.get('/products', async (_req, res) => {
    res.json({ products: await deps.products.list() });
  });

  router.get('/products/popular/exact', async (req, res) => {
    const { days, limit } = parse('query', popularQuery, req.query);
    const products = await deps.products.popularExact(days, limit);
    res.json({ source: 'sql', days, limit, products });
  });

  // Registered before /products/:id so that `popular` is never read as an id.
  router.get('/products/popular', async (req, res) => {
    const { days, limit, by } = parse('query', sketchQuery, req.query);
    const top = await deps.trends.top(by, days, limit);
    const names = new Map((await deps.products.list()).map((p) => [p.id, p.name]));
    const products = top
      .map((t) => ({ id: Number(t.item), estimate: t.estimate, errorBound: t.errorBound }))
      .filter((p) => names.has(p.id))
      .map((p) => ({
        id: p.id,
        name: names.get(p.id) as string,
        [by === 'sales' ? 'sold' : 'views']: p.estimate,
        errorBound: p.errorBound,
      }));
    res.json({ source: 'sketch', by, days, limit, products });
  });

  router.get('/products/:id', async (req, res) => {
    const { id } = parse('params', params, req.params);
    const product = await deps.products.get(id);
    if (!product) throw new NotFoundError('product', id);
    // A signed-in viewer counts once per product and hour; anonymous viewers by address.
    const token = bearerToken(req);
    const user = typeof token === 'string' ? await deps.auth.verify(token).catch(() => null) : null;
    await deps.trends.view(id, user ? `user:${user.id}` : `ip:${req.ip}`);
    res.json({ product });
  });

  return router;
}
