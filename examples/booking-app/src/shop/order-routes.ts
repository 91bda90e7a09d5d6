import { type IdempotencyStore, idempotency } from '@boxoffice/idempotency';
import { Router } from 'express';
import { z } from 'zod';
import { requireUser } from '../auth/require-user.js';
import type { UserSessions } from '../auth/user-sessions.js';
import { InsufficientStockError, NotFoundError, OrderLimitExceededError } from '../errors.js';
import { idempotencyProblem } from '../http/idempotency-problem.js';
import { parse } from '../http/validate.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { OrderService } from './order-service.js';
import type { ProductTrends } from './product-trends.js';

const orderBody = z.object({
  items: z
    .array(
      z.object({
        productId: z.number().int().positive().max(2_147_483_647),
        quantity: z.number().int().min(1).max(100),
      }),
    )
    .min(1, 'must have at least one item')
    .max(20, 'must have at most 20 items')
    .refine((items) => new Set(items.map((i) => i.productId)).size === items.length, {
      message: 'must not list a product twice',
    }),
});

const orderParams = z.object({ id: z.uuid('must be a UUID') });

/**
 * `POST /orders` and `GET /orders/:id` (user token required; only your own orders). `POST /orders`
 * takes an optional `Idempotency-Key` (`@boxoffice/idempotency`, scoped per user): a retry gets the
 * first answer replayed instead of a second order.
 */
export function orderRoutes(deps: {
  auth: UserSessions;
  store: IdempotencyStore;
  trends: ProductTrends;
  orders: OrderService;
  metrics: AppMetrics;
}): Router {
  const router = Router();

  const once = idempotency({
    store: deps.store,
    required: false,
    scope: (req) => `user:${(req.user as { id: number }).id}`,
    inFlight: 'wait',
    onProblem: idempotencyProblem(deps.metrics),
  });

  router.post('/orders', requireUser(deps.auth), once, async (req, res) => {
    const { items } = parse('body', orderBody, req.body);
    const user = req.user as { id: number };
    try {
      const order = await deps.orders.place(user.id, items);
      deps.metrics.orders.inc({ outcome: 'placed' });
      deps.metrics.unitsSold.inc(items.reduce((sum, i) => sum + i.quantity, 0));
      await deps.trends.sold(items);
      res.status(201).location(`/orders/${order.id}`).json({ order });
    } catch (error) {
      if (error instanceof InsufficientStockError) {
        deps.metrics.orders.inc({ outcome: 'insufficient_stock' });
      } else if (error instanceof NotFoundError) {
        deps.metrics.orders.inc({ outcome: 'unknown_product' });
      } else if (error instanceof OrderLimitExceededError) {
        deps.metrics.orders.inc({ outcome: 'over_limit' });
      }
      throw error;
    }
  });

  router.get('/orders/:id', requireUser(deps.auth), async (req, res) => {
    const { id } = parse('params', orderParams, req.params);
    const order = await deps.orders.get(id, (req.user as { id: number }).id);
    if (!order) throw new NotFoundError('order', id);
    res.json({ order });
  });

  return router;
}
