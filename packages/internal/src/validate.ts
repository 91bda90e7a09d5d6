// Boundary checks shared by every package. Each throws a TypeError (wrong kind of value) or a
// RangeError (right kind, out of range) whose message names the parameter and shows the value,
// e.g. `ttlMs must be an integer >= 1, got -5`, before any Redis call is made.

/** Render a value for an error message: short, unambiguous, never throws. */
export function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  if (Array.isArray(value)) return `array(${value.length})`;
  return typeof value === 'object' ? 'object' : typeof value;
}

/** An integer in [min, max] (defaults: 0 and Number.MAX_SAFE_INTEGER). */
export function integer(
  name: string,
  value: unknown,
  { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${name} must be an integer ${range}, got ${value}`);
  }
  return value;
}

/** A finite number strictly between `min` and `max` (exclusive bounds, e.g. a probability). */
export function openInterval(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, got ${show(value)}`);
  }
  if (!(value > min && value < max)) {
    throw new RangeError(`${name} must be in (${min}, ${max}), got ${value}`);
  }
  return value;
}

/** A boolean. */
export function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** A function. */
export function func<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function')
    throw new TypeError(`${name} must be a function, got ${show(value)}`);
  return value as T;
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TypeError(
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${show(value)}`,
    );
  }
  return value as T;
}

/** A valid `Date`. */
export function date(name: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new TypeError(`${name} must be a valid Date, got ${show(value)}`);
  }
  return value;
}

/** An `AbortSignal` or undefined. */
export function optionalSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal))
    throw new TypeError(`${name} must be an AbortSignal, got ${show(value)}`);
  return value;
}

/** UTF-8 length of a string. */
export function byteLength(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

// C0/C1 control characters (lone surrogates are refused by every text() call, printable or not).
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * True when `value` has no lone surrogate (UTF-16 that is not valid Unicode). Redis stores UTF-8, and
 * encoding turns every lone surrogate into U+FFFD, so two different such strings would become one key.
 */
export function isWellFormed(value: string): boolean {
  // String#isWellFormed is native from Node 20 (ES2024; not in this project's ES2023 lib types).
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * A string of 1..`maxBytes` UTF-8 bytes; with `printable`, only printable characters (no control
 * characters, no lone surrogates).
 */
export function text(
  name: string,
  value: unknown,
  { maxBytes = 512, printable = false }: { maxBytes?: number; printable?: boolean } = {},
): string {
  if (typeof value !== 'string')
    throw new TypeError(`${name} must be a string, got ${show(value)}`);
  if (value.length === 0) throw new RangeError(`${name} must not be empty`);
  if (!isWellFormed(value))
    throw new TypeError(
      `${name} must be well-formed Unicode (no lone surrogates), got ${show(value)}`,
    );
  const bytes = byteLength(value);
  if (bytes > maxBytes)
    throw new RangeError(`${name} must be at most ${maxBytes} bytes, got ${bytes}`);
  if (printable && NOT_PRINTABLE.test(value)) {
    throw new TypeError(`${name} must contain only printable characters, got ${show(value)}`);
  }
  return value;
}

/** A plain options object (or undefined → `{}`); rejects arrays, class instances and primitives. */
export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${show(value)}`);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`${name} must be a plain object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Merge user options over frozen defaults, refusing unknown keys (a typo like `tllMs` must not be
 * silently ignored). `undefined` values fall back to the default. Returns a frozen object; validate
 * each field of it next.
 */
export function mergeOptions<T extends object>(
  name: string,
  defaults: Readonly<T>,
  options: unknown,
  extraKeys: readonly string[] = [],
): Readonly<T> {
  const given = plainObject(name, options);
  const known = new Set([...Object.keys(defaults), ...extraKeys]);
  for (const key of Object.keys(given)) {
    if (!known.has(key)) {
      throw new TypeError(`${name}: unknown option '${key}' (known: ${[...known].join(', ')})`);
    }
  }
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(given)) if (value !== undefined) merged[key] = value;
  return Object.freeze(merged) as Readonly<T>;
}
