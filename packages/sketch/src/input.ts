import { check, keyPart } from '@boxoffice/internal';

/** Largest increment accepted in one call (2^31). */
export const MAX_INCREMENT = 2 ** 31;
/** Largest item, in UTF-8 bytes. */
export const MAX_ITEM_BYTES = 1024;

/** A string (1..1024 UTF-8 bytes) or a finite number; numbers count as their decimal string. */
export type Item = string | number;

/** Validate an item and return the string that is hashed and stored. */
export function item(name: string, value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TypeError(`${name} must be a finite number, got ${value}`);
    return String(value);
  }
  if (typeof value !== 'string') {
    throw new TypeError(`${name} must be a string or a number, got ${check.show(value)}`);
  }
  // ≤ 341 UTF-16 units is ≤ 1023 UTF-8 bytes: skip measuring the common short ids
  if (value.length > 0 && value.length <= 341 && check.isWellFormed(value)) return value;
  return check.text(name, value, { maxBytes: MAX_ITEM_BYTES });
}

/** Validate an increment: an integer in [1, 2^31]. */
export function increment(name: string, value: unknown): number {
  return check.integer(name, value, { min: 1, max: MAX_INCREMENT });
}

/** A length of time: milliseconds, or `{ days, hours, minutes, seconds, ms }` (summed). */
export type Duration =
  | number
  | { days?: number; hours?: number; minutes?: number; seconds?: number; ms?: number };

const UNIT_MS = { days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1000, ms: 1 };

/** Validate a duration and return it in whole milliseconds (≥ 1 s, ≤ 366 days). */
export function duration(name: string, value: unknown): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else {
    const parts = check.mergeOptions(
      name,
      { days: 0, hours: 0, minutes: 0, seconds: 0, ms: 0 },
      value,
    );
    ms = 0;
    for (const [unit, factor] of Object.entries(UNIT_MS)) {
      const n = parts[unit as keyof typeof UNIT_MS];
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
        throw new TypeError(`${name}.${unit} must be a finite number >= 0, got ${check.show(n)}`);
      }
      ms += n * factor;
    }
  }
  return check.integer(name, ms, { min: 1000, max: 366 * UNIT_MS.days });
}

/** A list (array) argument. */
export function list(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value))
    throw new TypeError(`${name} must be an array, got ${check.show(value)}`);
  return value;
}

/** The Redis key part for a user-given name: kept as is when it has a `{tag}`, else wrapped in one. */
export function tagged(name: string, value: unknown): string {
  const part = keyPart(name, value, 256);
  return part.includes('{') ? part : `{${part}}`;
}

/** Options of {@link Trending.record}. */
export interface RecordOptions {
  /** When the event happened (an older bucket still inside the window is fine). @defaultValue now */
  at?: Date;
  /** Count this item at most once per bucket per `dedupeBy` value (e.g. a user id), with a Bloom filter. @defaultValue undefined */
  dedupeBy?: Item;
}
