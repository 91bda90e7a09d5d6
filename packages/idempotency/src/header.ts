import { IdempotencyKeyInvalidError } from './errors.js';

/** Longest accepted key, in characters (all ASCII). */
export const MAX_KEY_LENGTH = 255;

// A quoted key of printable ASCII without `"` or `\` inside, and a bare token (printable, no `"`).
const QUOTED_PLAIN = /^"[\x20\x21\x23-\x5b\x5d-\x7e]+"$/;
const TOKEN = /^[\x21\x23-\x7e]+$/;
// RFC 8941 §3.1.2 parameters: `;` SP* key [ `=` bare-item ]; a bare item (§3.3) is a decimal,
// integer, string, token, byte sequence or boolean.
const BARE_ITEM = [
  String.raw`-?\d{1,12}\.\d{1,3}`,
  String.raw`-?\d{1,15}`,
  String.raw`"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"`,
  "[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*",
  ':[A-Za-z0-9+/=]*:',
  String.raw`\?[01]`,
].join('|');
const PARAMETERS = new RegExp(`^(?:; *[a-z*][a-z0-9_.*-]*(?:=(?:${BARE_ITEM}))?)*$`);

/**
 * Parse an `Idempotency-Key` header value: a Structured Field string (`"..."`, with `\"` and `\\`
 * escapes; well-formed RFC 8941 parameters after it are ignored, malformed ones refused) as the
 * IETF draft specifies, or for compatibility a bare token. The key must be 1–255 printable ASCII
 * characters. Throws {@link IdempotencyKeyInvalidError} (`reason` `'missing'`, `'malformed'` or
 * `'too_long'`); its message names the header `name`.
 */
export function parseIdempotencyKey(
  header: string | string[] | undefined,
  name = 'Idempotency-Key',
): string {
  // Fast path, the common case: a quoted string without escapes, or a bare token, and nothing else.
  if (typeof header === 'string') {
    if (header.length <= MAX_KEY_LENGTH + 2 && QUOTED_PLAIN.test(header))
      return header.slice(1, -1);
    if (header.length <= MAX_KEY_LENGTH && TOKEN.test(header)) return header;
  }
  if (header === undefined) {
    throw new IdempotencyKeyInvalidError('missing', `the ${name} header is required`);
  }
  if (Array.isArray(header)) {
    if (header.length !== 1) return malformed(`the ${name} header must appear once`);
    header = header[0] as string;
  }
  const value = header.replace(/^[ \t]+|[ \t]+$/g, '');
  let key: string;
  if (value.startsWith('"')) {
    let i = 1;
    key = '';
    for (;;) {
      if (i >= value.length) return malformed(`the ${name} string is not closed`);
      const ch = value.charCodeAt(i);
      if (ch === 0x22) break;
      if (ch === 0x5c) {
        const next = value[i + 1];
        if (next !== '"' && next !== '\\') {
          return malformed(`the ${name} string has an invalid escape`);
        }
        key += next;
        i += 2;
        continue;
      }
      if (ch < 0x20 || ch > 0x7e) {
        return malformed(`the ${name} must contain only printable ASCII characters`);
      }
      key += value[i];
      i++;
    }
    const rest = value.slice(i + 1);
    // Structured Field parameters (`;name=value`) may follow the string; they carry nothing here,
    // but a value that is not a well-formed sf-string item is refused as a whole.
    if (rest !== '' && !PARAMETERS.test(rest)) {
      return malformed(
        rest.startsWith(';')
          ? `the ${name} string has malformed parameters`
          : `unexpected characters after the ${name} string`,
      );
    }
  } else {
    if (!/^[\x21-\x7e]+$/.test(value) || value.includes('"')) {
      return malformed(
        value === ''
          ? `the ${name} header is empty`
          : `the ${name} must be a quoted string or a token of printable ASCII characters`,
      );
    }
    key = value;
  }
  return checkedLength(key, name);
}

function checkedLength(key: string, name: string): string {
  if (key.length === 0) return malformed(`the ${name} must not be empty`);
  if (key.length > MAX_KEY_LENGTH) {
    throw new IdempotencyKeyInvalidError(
      'too_long',
      `the ${name} must be at most ${MAX_KEY_LENGTH} characters, got ${key.length}`,
    );
  }
  return key;
}

function malformed(message: string): never {
  throw new IdempotencyKeyInvalidError('malformed', message);
}

// What an sf-string can carry once unescaped: printable ASCII, space included.
const PLAIN_KEY = /^[\x20-\x7e]*$/;

/**
 * Check a key that arrived already decoded, not as a header (e.g. a body field read by the
 * middleware's `key` option): a string of 1–255 printable ASCII characters (space included), the
 * keys an sf-string header can carry. No Structured Field syntax applies: quotes and backslashes are
 * part of the key. `undefined` and `null` are `'missing'`; anything else that is not such a string
 * is `'malformed'` or `'too_long'`. `name` is what the messages call the key.
 */
export function checkIdempotencyKey(value: unknown, name = 'idempotency key'): string {
  if (value === undefined || value === null) {
    throw new IdempotencyKeyInvalidError('missing', `the ${name} is required`);
  }
  if (typeof value !== 'string') return malformed(`the ${name} must be a string`);
  if (value.length <= MAX_KEY_LENGTH && !PLAIN_KEY.test(value)) {
    return malformed(`the ${name} must contain only printable ASCII characters`);
  }
  return checkedLength(value, name);
}

/** Response headers the middleware sets. */
export const HEADERS = Object.freeze({
  /** Request header carrying the key. */
  key: 'idempotency-key',
  /** On replays: `true`. */
  replayed: 'idempotent-replayed',
  /** When the key's record expires (HTTP-date), on every response to a request with a valid key. */
  expires: 'idempotency-key-expires',
  /** `false` when the response body was too large to store (replays then carry no body). */
  bodyStored: 'idempotency-body-stored',
});

// An HTTP-date has a resolution of one second: the last one formatted is reused.
let dateSecond = Number.NaN;
let dateText = '';

/** `ms` as an HTTP-date (RFC 9110 §5.6.7). */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    dateText = new Date(second * 1000).toUTCString();
    dateSecond = second;
  }
  return dateText;
}
