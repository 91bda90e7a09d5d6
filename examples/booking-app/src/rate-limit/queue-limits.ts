import type { RedisClient } from '@boxoffice/internal';
import type { Request, RequestHandler } from 'express';
import { FixedWindowLimiter } from './fixed-window-limiter.js';
import { rateLimit } from './rate-limit.js';

/** Budgets per minute of the waiting room's brakes; 0 turns one off. */
export interface QueueRateLimits {
  /** Joins per user. @defaultValue 20 */
  joinPerUser: number;
  /** Joins per client address (IPv6 by /64). @defaultValue 600 */
  joinPerAddress: number;
  /** SSE stream opens per user. @defaultValue 20 */
  streamPerUser: number;
  /** SSE stream opens per client address (IPv6 by /64). @defaultValue 600 */
  streamPerAddress: number;
}

/** The defaults of {@link QueueRateLimits}. */
export const QUEUE_RATE_LIMITS: Readonly<QueueRateLimits> = Object.freeze({
  joinPerUser: 20,
  joinPerAddress: 600,
  streamPerUser: 20,
  streamPerAddress: 600,
});

const byUser = (req: Request) => `user:${(req.user as { id: number }).id}`;

/**
 * The middleware that brakes joins and stream opens (run after `requireUser`): per client address,
 * then per user, each a {@link FixedWindowLimiter} of one minute shared by every instance through
 * Redis; 429 problem+json with `Retry-After` past a budget.
 */
export function queueRateLimits(
  redis: RedisClient,
  prefix: string,
  limits: Partial<QueueRateLimits> = {},
): { join: RequestHandler[]; stream: RequestHandler[] } {
  const l = { ...QUEUE_RATE_LIMITS, ...limits };
  const limiter = (name: string, limit: number) =>
    new FixedWindowLimiter(redis, { name, limit, windowMs: 60_000, prefix });
  const handlers = (name: string, perAddress: number, perUser: number) => [
    ...(perAddress > 0 ? [rateLimit(limiter(`${name}-address`, perAddress))] : []),
    ...(perUser > 0 ? [rateLimit(limiter(`${name}-user`, perUser), byUser)] : []),
  ];
  return {
    join: handlers('queue-join', l.joinPerAddress, l.joinPerUser),
    stream: handlers('queue-stream', l.streamPerAddress, l.streamPerUser),
  };
}
