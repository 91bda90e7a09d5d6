import { check } from '@boxoffice/internal';
import { checkIdempotencyKey, parseIdempotencyKey } from './header.js';

/** The part of a request a key is read from by header (Node's, Express's and Fastify's requests). */
export interface HeaderSource {
  readonly headers: Record<string, string | string[] | undefined>;
}

/** Where the middleware finds a request's idempotency key. */
export interface KeySource<Req> {
  /**
   * The request's key; `undefined` when it carries none and keys are not required. Throws
   * `IdempotencyKeyInvalidError` for a missing (when required) or malformed key; anything else it
   * throws is a bug of the app's `key` function.
   */
  read(req: Req): string | undefined;
  /** What problem titles call the key: the header's name, or `Idempotency key`. */
  readonly label: string;
}

// RFC 9110 §5.1: a field name is a token.
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The key source of the middleware options `header` and `key` (at most one of them). A header is
 * parsed as an RFC 8941 sf-string (or a bare token); a `key(req)` result is a plain string checked
 * by {@link checkIdempotencyKey}. Throws `TypeError` for a bad header name, a `key` that is not a
 * function, or both options.
 */
export function keySource<Req extends HeaderSource>(
  header: unknown,
  key: unknown,
  required: boolean,
): KeySource<Req> {
  if (header !== undefined && key !== undefined) {
    throw new TypeError('give idempotency options header or key, not both');
  }
  if (key !== undefined) {
    const read = check.func<(req: Req) => unknown>('key', key);
    return {
      label: 'Idempotency key',
      read(req) {
        const value = read(req);
        if (!required && (value === undefined || value === null)) return undefined;
        return checkIdempotencyKey(value);
      },
    };
  }
  const label = header === undefined ? 'Idempotency-Key' : header;
  if (typeof label !== 'string' || label.length > 256 || !FIELD_NAME.test(label)) {
    throw new TypeError(
      `header must be an HTTP header name (an RFC 9110 token), got ${check.show(label)}`,
    );
  }
  // Node lower-cases the names of incoming headers.
  const name = label.toLowerCase();
  return {
    label,
    read(req) {
      const value = req.headers[name];
      if (!required && value === undefined) return undefined;
      return parseIdempotencyKey(value, label);
    },
  };
}
