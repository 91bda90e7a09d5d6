import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { UnauthorizedError } from '../errors.js';
import type { SessionUser } from './demo-auth.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by {@link requireUser}. */
      user?: SessionUser;
    }
  }
}

/** Where {@link requireUser} may also look for the token, besides the `Authorization` header. */
export interface TokenSources {
  /**
   * An `access_token` form field (RFC 6750 §2.2), for `navigator.sendBeacon`, which cannot send
   * headers either.
   * @defaultValue false
   */
  body?: boolean;
}

/**
 * The bearer token of a request (header first, then the allowed `sources`), or the 401 error to
 * answer with.
 */
export function bearerToken(req: Request, sources: TokenSources = {}): string | UnauthorizedError {
  const header = req.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match
      ? (match[1] as string)
      : new UnauthorizedError('token-invalid', 'the Authorization header must be Bearer <token>');
  }
  const body = req.body as Record<string, unknown> | undefined;
  const fromBody = sources.body && body && typeof body === 'object' ? body.access_token : undefined;
  if (typeof fromBody === 'string' && fromBody) return fromBody;
  return new UnauthorizedError('token-missing', 'send Authorization: Bearer <token>');
}

/** What checks user tokens: `UserSessions` (signature, expiry and revocation). */
export interface UserVerifier {
  verify(token: string): Promise<SessionUser>;
}

/**
 * Express middleware: `Authorization: Bearer <user token>` (or, when allowed, an `access_token`
 * form field) → `req.user`, else 401 problem+json (`token-missing`, `token-expired`,
 * `token-invalid`, `token-revoked`). A user token is never taken from the URL: EventSource gets a
 * stream token instead (`POST /concerts/:id/queue/stream-token`).
 */
export function requireUser(auth: UserVerifier, sources: TokenSources = {}): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req, sources);
    if (token instanceof UnauthorizedError) return next(token);
    try {
      req.user = await auth.verify(token);
      next();
    } catch (error) {
      next(error);
    }
  };
}
