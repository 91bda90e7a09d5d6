import type { z } from 'zod';
import { RequestValidationError } from '../errors.js';

/**
 * Parse `value` with `schema`; on failure throw a 400 {@link RequestValidationError} naming every
 * bad field as `<where>.<path>` (e.g. `body.items.0.quantity`, `query.days`, `params.id`).
 */
export function parse<S extends z.ZodType>(
  where: 'body' | 'query' | 'params',
  schema: S,
  value: unknown,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new RequestValidationError(
    result.error.issues.map((issue) => ({
      field: [where, ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  );
}
