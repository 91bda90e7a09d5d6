import { z } from 'zod';

/** A positive int4 id written as decimal digits (no signs, exponents or leading zeros). */
export const idParam = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().max(2_147_483_647, 'is too large'));

/** An optional integer query parameter in [min, max]. */
export function intQuery(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^[0-9]{1,9}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .optional()
    .transform((value) => value ?? fallback);
}
