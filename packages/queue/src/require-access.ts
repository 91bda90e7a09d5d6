import { check } from '@boxoffice/internal';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import { AccessTokenError, TokenInvalidError, TokenRevokedError } from './errors.js';

// Structural types, so the package does not depend on express or its types.
interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}
interface ResponseLike {
  status(code: number): ResponseLike;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
  locals?: Record<string, unknown>;
}

/** An Express-compatible middleware. */
export type AccessMiddleware = (
  req: RequestLike,
  res: ResponseLike,
  next: (error?: unknown) => void,
) => void;

/** What {@link requireAccess} checks. */
export interface RequireAccessOptions {
  /** Required `scope`, e.g. `'queue_entry'`. */
  scope: string;
  /** Required `aud`, e.g. the room id. */
  audience: string;
  /**
   * Stateful (revocable) mode: also ask this checker whether the token is still live, e.g.
   * `room` (a `WaitingRoom`), whose `isTokenActive` answers from Redis, so `complete()`, expiry or
   * `leave()` revoke the token at once.
   */
  revocation?: { isTokenActive(claims: AccessClaims): Promise<boolean> };
}

/**
 * Express middleware: requires `Authorization: Bearer <jwt>` valid for `scope` and `audience`. On
 * success sets `req.access` and `res.locals.access` to the {@link AccessClaims}. Refusals are RFC 9457
 * `application/problem+json`: 401 missing/invalid/expired/revoked (with `WWW-Authenticate`), 403 wrong
 * scope or audience. Other failures (e.g. Redis down in revocable mode) go to `next(error)`.
 */
export function requireAccess(
  tokens: AccessTokens,
  options: RequireAccessOptions,
): AccessMiddleware {
  if (typeof tokens?.verify !== 'function') throw new TypeError('tokens must be an AccessTokens');
  const o = check.plainObject('requireAccess options', options);
  const scope = check.text('scope', o.scope, { maxBytes: 256 });
  const audience = check.text('audience', o.audience, { maxBytes: 512 });
  const revocation = o.revocation as RequireAccessOptions['revocation'];
  if (revocation !== undefined && typeof revocation?.isTokenActive !== 'function') {
    throw new TypeError(
      'revocation must have an isTokenActive(claims) method (e.g. a WaitingRoom)',
    );
  }
  return (req, res, next) => {
    const run = async () => {
      const header = req.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match)
        throw new TokenInvalidError('TOKEN_MISSING', 'an Authorization: Bearer token is required');
      const claims = await tokens.verify(match[1] as string, { scope, audience });
      if (revocation && !(await revocation.isTokenActive(claims))) {
        throw new TokenRevokedError(claims.jti);
      }
      (req as RequestLike & { access?: AccessClaims }).access = claims;
      if (res.locals) res.locals.access = claims;
    };
    run().then(
      () => next(),
      (error: unknown) => {
        if (!(error instanceof AccessTokenError)) return next(error);
        if (error.status === 401) {
          res.setHeader(
            'WWW-Authenticate',
            `Bearer error="${error.code === 'TOKEN_MISSING' ? 'invalid_request' : 'invalid_token'}"`,
          );
        }
        res.setHeader('Content-Type', 'application/problem+json');
        res.status(error.status).end(
          JSON.stringify({
            type: `urn:boxoffice:queue:${error.code.toLowerCase().replaceAll('_', '-')}`,
            title: error.status === 401 ? 'Unauthorized' : 'Forbidden',
            status: error.status,
            code: error.code,
            detail: error.message,
          }),
        );
      },
    );
  };
}
