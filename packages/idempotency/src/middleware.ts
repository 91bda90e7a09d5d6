import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Adapter, type HttpIdempotencyOptions, requestGuard } from './guard.js';
import { sendProblem } from './problem.js';
import { responseCapture } from './response-capture.js';

export { DEFAULT_REPLAY_HEADERS } from './guard.js';

/** Options of {@link idempotency}: {@link HttpIdempotencyOptions} over Express's request and response. */
export type IdempotencyOptions = HttpIdempotencyOptions<Request, Response>;

/**
 * `req.ip`, without running proxy-addr on every request when Express's `trust proxy` is off (its
 * default): then `req.ip` is the socket's address.
 */
function clientAddress(req: Request): string | undefined {
  return req.app?.get('trust proxy') === false ? req.socket.remoteAddress : req.ip;
}

const EXPRESS_DEFAULTS = Object.freeze({
  scope: (req: Request): string | number | null | undefined =>
    (req as Request & { user?: { id?: string | number } }).user?.id ?? clientAddress(req),
});

/**
 * Express middleware implementing the IETF `Idempotency-Key` header: the first request with a key
 * runs the handler and its response (status, allowlisted headers, body bytes) is stored; later
 * requests with the same key (per `scope`) get it replayed with `Idempotent-Replayed: true`,
 * without running the handler. 400 for a missing/malformed key, 422 for a key reused with another
 * payload, 409 (+ `Retry-After`) while the first request is in flight (or, in `'wait'` mode, its
 * result), 503 (+ `Retry-After`) when Redis is unreachable. `GET`, `HEAD` and `OPTIONS` pass through.
 */
export function idempotency(options: IdempotencyOptions): RequestHandler {
  let capture: ReturnType<typeof responseCapture> | undefined;
  const adapter: Adapter<Request, Response, NextFunction> = {
    pass: (_req, _res, next) => next(),
    run: (lease, req, res, next) =>
      (capture as ReturnType<typeof responseCapture>)(lease, req, res, next),
    replay(res, status, headers, body) {
      res.writeHead(status, headers);
      res.end(body);
    },
    problem: sendProblem,
    sent: (res) => res.headersSent || res.writableEnded,
    fail: (error, next) => next(error),
  };
  const { settings, handle } = requestGuard(options, EXPRESS_DEFAULTS, adapter);
  capture = responseCapture(settings);
  return function idempotencyMiddleware(req: Request, res: Response, next: NextFunction): void {
    handle(req, res, next);
  };
}
