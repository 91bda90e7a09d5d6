import { createHash, hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so that `{"a":1,"b":2}` and `{"b":2,"a":1}` have
 * the same fingerprint. `toJSON` is honoured and `undefined` members are dropped, as in `JSON.stringify`.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return isAbsent(value) ? 'null' : (JSON.stringify(value) ?? 'null');
  }
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return canonicalJson(withToJson.toJSON());
  // Built by concatenation (no intermediate arrays): this runs on every request body.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (i > 0) out += ',';
      out += isAbsent(item) ? 'null' : canonicalJson(item);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const name of Object.keys(record).sort()) {
    const member = record[name];
    if (isAbsent(member)) continue;
    if (out.length > 1) out += ',';
    out += `${JSON.stringify(name)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol';
}

/** What the default fingerprint reads of a request (Express's and Fastify's both have it). */
export interface FingerprintedRequest {
  readonly method: string;
  readonly url: string;
  /** The URL before any rewriting (Express, Fastify); `url` when absent. */
  readonly originalUrl?: string;
  /** The parsed body, if a body parser ran. */
  readonly body?: unknown;
}

/**
 * The default request fingerprint: SHA-256 (base64url) of the method, the URL (path and query) and
 * the parsed body — canonical JSON for objects, the bytes for `express.raw()`, the text for
 * `express.text()` (with Fastify: its parsed JSON, or the text). Mount a body parser before the
 * middleware, or the body is not covered.
 */
export function defaultFingerprint(req: FingerprintedRequest): string {
  const head = `${req.method} ${req.originalUrl ?? req.url}\n`;
  const body: unknown = req.body;
  if (Buffer.isBuffer(body)) {
    return createHash('sha256').update(head).update('b').update(body).digest('base64url');
  }
  // One-shot hashing: no Hash object per request.
  if (typeof body === 'string') return hash('sha256', `${head}s${body}`, 'base64url');
  if (body === undefined) return hash('sha256', head, 'base64url');
  return hash('sha256', `${head}j${canonicalJson(body)}`, 'base64url');
}
