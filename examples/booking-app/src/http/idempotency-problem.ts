import type { IdempotencyProblem } from '@boxoffice/idempotency';
import type { Request } from 'express';
import type { AppMetrics } from '../observability/metrics.js';
import { pathOf } from './problem.js';

/** `IDEMPOTENCY_KEY_REUSED` → `idempotency-key-reused`: the app's lower-case, dashed codes. */
export const idempotencyCode = (code: string): string => code.toLowerCase().replaceAll('_', '-');

/**
 * The `onProblem` hook of every `idempotency()` middleware in the app: the middleware's own
 * 400/409/422/503 answers get the app's problem+json shape (`type` `urn:boxoffice:problem:<code>`,
 * lower-case `code`, `instance`, `requestId`, like the error handler's), and each one is counted in
 * `boxoffice_idempotency_conflicts_total` by route and code. The key and the scope are not echoed.
 */
export function idempotencyProblem(metrics: AppMetrics) {
  return (problem: IdempotencyProblem, req: Request): Record<string, unknown> => {
    const code = idempotencyCode(problem.code);
    const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : req.path;
    metrics.idempotencyConflicts.inc({ route, code });
    if (req.res) req.res.locals.problemCode = code; // named in the request's log line, as sendProblem does
    return {
      type: `urn:boxoffice:problem:${code}`,
      code,
      status: problem.status,
      title: problem.title,
      detail: problem.detail,
      ...(problem.reason !== undefined ? { reason: problem.reason } : {}),
      ...(problem.retryAfterSec !== undefined ? { retryAfterSec: problem.retryAfterSec } : {}),
      instance: pathOf(req),
      requestId: String(req.id ?? ''),
    };
  };
}
