import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors.js';

/**
 * Protective headers on every answer (the pages set their own, wider CSP over this one): no MIME
 * sniffing, no referrer, no framing, nothing loadable from an API answer; and, when the request
 * came over HTTPS (`req.secure`, which behind a proxy needs `TRUST_PROXY`), HSTS.
 */
export const securityHeaders: RequestHandler = (req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  if (req.secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
  next();
};

/**
 * Guards operator endpoints (`/metrics`, `/stats`; with `{ variable: 'ADMIN_TOKEN', realm: 'admin' }`
 * the operator page's API) with `Authorization: Bearer <token>` when a token is configured; unset:
 * open (the demo). 401 problem+json otherwise. The comparison takes the same time wherever the
 * given token differs, and whatever its length: SHA-256 digests compared with `timingSafeEqual`.
 */
export function requireOperatorToken(
  token: string | undefined,
  names: { variable: string; realm: string } = { variable: 'METRICS_TOKEN', realm: 'metrics' },
): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const expected = digest(token);
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    if (match && timingSafeEqual(digest(match[1] as string), expected)) return next();
    res.setHeader('WWW-Authenticate', `Bearer realm="${names.realm}"`);
    next(
      new UnauthorizedError(
        match ? 'token-invalid' : 'token-missing',
        `this endpoint needs Authorization: Bearer <${names.variable}>`,
      ),
    );
  };
}
