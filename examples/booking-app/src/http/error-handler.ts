import { AccessTokenError } from '@boxoffice/queue';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { ZodError } from 'zod';
import {
  AccessTokenRefusedError,
  DomainError,
  HttpError,
  InsufficientStockError,
  NotAdmittedError,
  NotFoundError,
  OrderLimitExceededError,
  RequestValidationError,
  SeatLimitReachedError,
  SeatLockedError,
  SeatUnavailableError,
  ServiceUnavailableError,
  UnauthorizedError,
} from '../errors.js';
import { type Problem, pathOf, sendProblem } from './problem.js';
import { redisUnavailable } from './redis-failure.js';

// Errors the body parser raises for what the client sent: answered with their own 4xx status.
const BODY_PARSER = new Map<string, { code: string; title: string }>([
  ['entity.parse.failed', { code: 'malformed-json', title: 'The body is not valid JSON' }],
  ['entity.too.large', { code: 'body-too-large', title: 'The body is too large' }],
  ['encoding.unsupported', { code: 'unsupported-encoding', title: 'Unsupported body encoding' }],
  ['charset.unsupported', { code: 'unsupported-charset', title: 'Unsupported body charset' }],
  ['request.aborted', { code: 'request-aborted', title: 'The request was aborted' }],
]);

/** Answers every unmatched route with a 404 problem. */
export const notFound: RequestHandler = (req, _res, next) => {
  next(
    new HttpError(
      404,
      'route-not-found',
      'Unknown route',
      `no route for ${req.method} ${req.path}`,
    ),
  );
};

// The HTTP status of each business refusal (DESIGN.md "HTTP contract"); the domain knows none.
const DOMAIN_STATUS = new Map<abstract new (...args: never[]) => DomainError, number>([
  [NotFoundError, 404],
  [UnauthorizedError, 401],
  [NotAdmittedError, 401],
  [SeatUnavailableError, 400],
  [OrderLimitExceededError, 400],
  [SeatLockedError, 409],
  [SeatLimitReachedError, 409],
  [InsufficientStockError, 409],
]);

/** The HTTP status `error` is answered with, or undefined for a class the table does not know. */
export function domainStatusOf(error: DomainError): number | undefined {
  if (error instanceof AccessTokenRefusedError) return error.forbidden ? 403 : 401;
  return DOMAIN_STATUS.get(error.constructor as new (...args: never[]) => DomainError);
}

/** The {@link HttpError} an error is answered as, or null for an unexpected one (a 500). */
export function toHttpError(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  if (error instanceof AccessTokenError) {
    // TOKEN_EXPIRED -> token-expired, the same codes as the user token's.
    return toHttpError(
      new AccessTokenRefusedError(
        error.status === 403,
        error.code.toLowerCase().replace('_', '-'),
        error.message,
      ),
    );
  }
  if (error instanceof DomainError) {
    const status = domainStatusOf(error);
    if (status === undefined) return null;
    return new HttpError(status, error.code, error.title, error.message, error.extensions);
  }
  if (error instanceof ZodError) {
    return new RequestValidationError(
      error.issues.map((i) => ({ field: i.path.join('.') || '(root)', message: i.message })),
    );
  }
  const e = error as { type?: string; status?: number; code?: string; message?: string };
  const parser = e?.type ? BODY_PARSER.get(e.type) : undefined;
  if (parser && typeof e.status === 'number') {
    return new HttpError(e.status, parser.code, parser.title, e.message);
  }
  // Express's and body-parser's other client errors carry a 4xx status: a path parameter that is not
  // valid percent-encoding (URIError from decoding the param), a body that does not decompress (zlib).
  if (error instanceof URIError && e.status === 400) {
    return new HttpError(
      400,
      'malformed-path',
      'The path is not valid percent-encoding',
      e.message,
    );
  }
  const exposed = (error as { expose?: unknown } | null)?.expose === true;
  if (exposed && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new HttpError(e.status, 'malformed-body', 'The body could not be decoded', e.message);
  }
  // SQLSTATE class 22 (data exception: a value out of range or of the wrong form) means the input
  // slipped past validation; it is still the client's input, never a 500.
  if (typeof e?.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code)) {
    return new HttpError(400, 'invalid-input', 'The request has an invalid value', e.message);
  }
  // A package's typed Redis failure, or a raw ioredis error from the app's own Redis calls.
  return redisUnavailable(error);
}

/**
 * The last middleware: every error becomes RFC 9457 problem+json with the DESIGN.md status; 503s
 * carry `Retry-After`; anything unexpected is a 500 whose body leaks nothing and whose details go
 * to the log with the request id.
 */
export function errorHandler(): ErrorRequestHandler {
  return (error, req: Request, res, _next) => {
    const known = toHttpError(error);
    if (res.headersSent) {
      req.log?.error({ err: error }, 'error after the response started');
      res.destroy();
      return;
    }
    if (!known) {
      const instance = pathOf(req);
      const requestId = String(req.id ?? '');
      req.log?.error({ err: error }, 'unhandled error');
      sendProblem(res, {
        status: 500,
        code: 'internal-error',
        title: 'Internal server error',
        detail: `something went wrong; quote request id ${requestId}`,
        instance,
        requestId,
      });
      return;
    }
    if (known instanceof ServiceUnavailableError) {
      req.log?.warn({ err: error }, known.message);
      res.set('Retry-After', String(known.retryAfterSec));
    } else if (known.status >= 500) {
      req.log?.error({ err: error }, known.message);
    }
    sendProblem(res, problemOf(known, req));
  };
}

/** The problem `known` is answered with for `req`. */
export function problemOf(known: HttpError, req: Request): Problem {
  return {
    status: known.status,
    code: known.code,
    title: known.title,
    detail: known.message,
    ...known.extensions,
    instance: pathOf(req),
    requestId: String(req.id ?? ''),
  };
}
