import type { Request, RequestHandler } from 'express';
import { HttpError, RedisUnavailableError } from '../errors.js';
import { redisUnavailable } from '../http/redis-failure.js';
import { TimeoutError, withTimeout } from '../with-timeout.js';
import { clientBucket } from './client-bucket.js';
import type { FixedWindowLimiter } from './fixed-window-limiter.js';

/**
 * Express middleware: 429 problem+json with `Retry-After` once a caller exceeds the limiter's
 * budget; `RateLimit-Limit`/`RateLimit-Remaining`/`RateLimit-Reset` on every answer. The caller is
 * `key(req)`, by default the client address ({@link clientBucket}: IPv6 by /64). Redis unreachable
 * or silent for `timeoutMs` → 503 with `Retry-After` (fail closed).
 */
export function rateLimit(
  limiter: FixedWindowLimiter,
  key: (req: Request) => string = clientBucket,
  timeoutMs = 2000,
): RequestHandler {
  return async (req, res, next) => {
    try {
      const result = await withTimeout(limiter.hit(key(req)), timeoutMs, 'Redis (rate limit)');
      const resetSec = Math.max(1, Math.ceil(result.resetMs / 1000));
      res.set({
        'RateLimit-Limit': String(limiter.limit),
        'RateLimit-Remaining': String(result.remaining),
        'RateLimit-Reset': String(resetSec),
      });
      if (result.allowed) return next();
      res.set('Retry-After', String(resetSec));
      next(
        new HttpError(429, 'rate-limited', 'Too many requests', `retry in ${resetSec} s`, {
          limit: limiter.limit,
          retryAfterSec: resetSec,
        }),
      );
    } catch (error) {
      next(
        error instanceof TimeoutError
          ? new RedisUnavailableError(error.message, { cause: error })
          : (redisUnavailable(error) ?? error),
      );
    }
  };
}
