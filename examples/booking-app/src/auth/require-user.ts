import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { UnauthorizedError } from '../errors.js';
import type { AuthUser, DemoAuth } from './demo-auth.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by {@link requireUser}. */
      user?: AuthUser;
    }
  }
}

/**
 * Express middleware: `Authorization: Bearer <user token>` → `req.user`, else 401 problem+json
 * (`token-missing`, `token-expired`, `token-invalid`).
 */
export function requireUser(auth: DemoAuth): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    if (!header) {
      return next(new UnauthorizedError('token-missing', 'send Authorization: Bearer <token>'));
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      return next(
        new UnauthorizedError('token-invalid', 'the Authorization header must be Bearer <token>'),
      );
    }
    try {
      req.user = await auth.verify(match[1] as string);
      next();
    } catch (error) {
      next(error);
    }
  };
}
