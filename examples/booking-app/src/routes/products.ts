import { Router } from 'express';
import { z } from 'zod';
import { HttpError, NotFoundError } from '../errors.js';
import { idParam, intQuery } from '../http/schemas.js';
import { parse } from '../http/validate.js';
import type { ProductRepository } from '../repos/product-repository.js';

const params = z.object({ id: idParam });
const popularQuery = z.object({ days: intQuery(1, 30, 3), limit: intQuery(1, 100, 10) });

/** Products, stock, and the exact SQL popularity ranking. */
export function productRoutes(deps: { products: ProductRepository }): Router {
  const router = Router();

  router.get('/products', async (_req, res) => {
    res.json({ products: await deps.products.list() });
  });

  router.get('/products/popular/exact', async (req, res) => {
    const { days, limit } = parse('query', popularQuery, req.query);
    const products = await deps.products.popularExact(days, limit);
    res.json({ source: 'sql', days, limit, products });
  });

  // Registered so that `popular` is never read as a product id; the sketch-based answer needs
  // @boxoffice/sketch (issue 6), which is not usable yet.
  router.get('/products/popular', () => {
    throw new HttpError(
      501,
      'not-implemented',
      'Not implemented yet',
      'GET /products/popular answers from @boxoffice/sketch, which is not built yet; use /products/popular/exact',
    );
  });

  router.get('/products/:id', async (req, res) => {
    const { id } = parse('params', params, req.params);
    const product = await deps.products.get(id);
    if (!product) throw new NotFoundError('product', id);
    res.json({ product });
  });

  return router;
}
