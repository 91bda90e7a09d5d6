import { check } from '@boxoffice/internal';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import { AccessTokenError, TokenInvalidError, TokenRevokedError } from './errors.js';

// Structural types, so the package does not depend on express or its types.
interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
}

/** What an `audience` function receives by default: the request, with Express route `params`. */
export interface AccessRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string>;
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

/** What {@link requireAccess} checks. `Req` is the request type an audience function receives. */
export interface RequireAccessOptions<Req = AccessRequest> {
  /** Required `scope`, e.g. `'queue_entry'`. */
  scope: string;
  /**
   * Required `aud`: a fixed string (e.g. the room id), or a function of the request returning it,
   * e.g. `(req) => req.params.id`, so one middleware serves `/concerts/:id/...`. A function that
   * throws or returns anything but a non-empty string (≤ 512 bytes), e.g. `undefined` for a route
   * without that parameter, is a server bug: the error goes to `next(error)` (500), never a 401/403.
   */
  audience: string | ((req: Req) => string | undefined);
  /**
   * Whether a token must still be live, not just validly signed. Pass the room that issued the
   * tokens (a `WaitingRoom`: its `isTokenActive` answers from Redis, one HGET per request), so
   * `complete()`, `leave()`, eviction and expiry revoke a token at once; with a per-request
   * audience, a checker that picks the room by `claims.aud`. `false` opts out: any unexpired
   * token passes, so a user who left or paid keeps access until `exp`. Required — there is no
   * silent stateless default.
   */
  revocation: { isTokenActive(claims: AccessClaims): Promise<boolean> } | false;
}

/**
 * Express middleware: requires `Authorization: Bearer <jwt>` valid for `scope` and `audience`, and
 * (unless `revocation: false`) still live in its room. On
 * success sets `req.access` and `res.locals.access` to the {@link AccessClaims}. Refusals are RFC 9457
 * `application/problem+json`: 401 missing/invalid/expired/revoked (with `WWW-Authenticate`), 403 wrong
 * scope or audience. Other failures (e.g. Redis down while checking revocation) go to `next(error)`.
 * @throws TypeError / RangeError at construction for invalid options, a missing `revocation` included.
 */
export function requireAccess<Req = AccessRequest>(
  tokens: AccessTokens,
  options: RequireAccessOptions<Req>,
): AccessMiddleware {
  if (typeof tokens?.verify !== 'function') throw new TypeError('tokens must be an AccessTokens');
  const o = check.plainObject('requireAccess options', options);
  const scope = check.text('scope', o.scope, { maxBytes: 256 });
  let audienceOf: (req: RequestLike) => string;
  if (typeof o.audience === 'function') {
    const resolve = o.audience as (req: RequestLike) => unknown;
    audienceOf = (req) =>
      check.text('audience (returned by the audience function)', resolve(req), { maxBytes: 512 });
  } else {
    const fixed = check.text('audience (a string or a function (req) => string)', o.audience, {
      maxBytes: 512,
    });
    audienceOf = () => fixed;
  }
  const revocation = o.revocation as RequireAccessOptions['revocation'] | undefined;
  if (
    revocation !== false &&
    typeof (revocation as { isTokenActive?: unknown } | null | undefined)?.isTokenActive !==
      'function'
  ) {
    throw new TypeError(
      'revocation must be the WaitingRoom that issued the tokens (or an isTokenActive(claims) checker), or false to accept any unexpired token',
    );
  }
  return (req, res, next) => {
    const run = async () => {
      const header = req.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match)
        throw new TokenInvalidError('TOKEN_MISSING', 'an Authorization: Bearer token is required');
      const claims = await tokens.verify(match[1] as string, { scope, audience: audienceOf(req) });
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
