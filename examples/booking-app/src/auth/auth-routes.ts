import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { EventLog } from '../events/event-log.js';
import { parse } from '../http/validate.js';
import type { AppMetrics } from '../observability/metrics.js';
import type { FixedWindowLimiter } from '../rate-limit/fixed-window-limiter.js';
import { rateLimit } from '../rate-limit/rate-limit.js';
import type { SessionUser } from './demo-auth.js';
import { requireUser } from './require-user.js';
import type { UserRepository } from './user-repository.js';
import type { UserSessions } from './user-sessions.js';

const loginBody = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(64, 'must be at most 64 characters')
    .regex(/^[\p{L}\p{N} _.@-]+$/u, 'letters, digits, spaces and _ . @ - only'),
});

/**
 * `POST /auth/demo-login` (DEMO: anyone gets a token for any name), `POST /auth/logout` (revokes
 * the presented token on every instance; 204) and `GET /me`.
 */
export function authRoutes(deps: {
  auth: UserSessions;
  users: UserRepository;
  events: EventLog;
  metrics: AppMetrics;
  /** Limits logins per client IP (429); unset: no limit. */
  loginLimiter?: FixedWindowLimiter | undefined;
}): Router {
  const router = Router();
  const limited: RequestHandler[] = deps.loginLimiter ? [rateLimit(deps.loginLimiter)] : [];

  router.post('/auth/demo-login', ...limited, async (req, res) => {
    const { name } = parse('body', loginBody, req.body);
    const user = await deps.users.logIn(name);
    const { token, expiresAt } = await deps.auth.issue(user);
    deps.metrics.logins.inc();
    // A bearer token: no cache or proxy may keep a copy.
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    res.json({
      token,
      tokenType: 'Bearer',
      expiresAt: expiresAt.toISOString(),
      user,
      demo: 'DEMO LOGIN: no password is checked; never use this in production',
    });
  });

  router.post('/auth/logout', requireUser(deps.auth), async (req, res) => {
    const user = req.user as SessionUser;
    await deps.auth.logout(user);
    await deps.events.record({ type: 'user.logout', outcome: 'success', userId: user.id });
    res.status(204).end();
  });

  router.get('/me', requireUser(deps.auth), (req, res) => {
    const { id, name } = req.user as SessionUser;
    res.json({ user: { id, name } });
  });

  return router;
}
