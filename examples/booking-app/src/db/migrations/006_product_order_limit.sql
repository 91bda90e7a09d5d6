-- Most units of a product one order may take (NULL: no limit beyond the stock). A drop that is
-- "1 per order" says so here; `POST /orders` answers 400 `order-limit-exceeded` above it.
ALTER TABLE products
  ADD COLUMN max_per_order integer CHECK (max_per_order IS NULL OR max_per_order > 0);
-- The demo catalogue seeded before this column existed: its limited drop gets its limit.
UPDATE products SET max_per_order = 1 WHERE name = 'Signed vinyl' AND max_per_order IS NULL;
