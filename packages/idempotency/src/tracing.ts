// The package's OpenTelemetry spans (README: Tracing): names, attributes and outcomes in one place,
// so the guard only asks `tracing.on` (no closure, no attributes while it is false) and wraps.
import { Tracing } from '@boxoffice/internal/tracing';
import type { ClaimResult } from './store.js';

/** The spans of `@boxoffice/idempotency` (a no-op without an OpenTelemetry SDK). */
export const tracing = new Tracing('@boxoffice/idempotency', __PACKAGE_VERSION__);

/** Span names. */
export const SPAN = {
  claim: 'boxoffice.idempotency.claim',
  replay: 'boxoffice.idempotency.replay',
} as const;

/**
 * A request's claim of its key in a span: outcome `claimed`, `done` (a stored result to replay),
 * `busy` or `mismatch`. The scope is not recorded (it is typically a user id), only whether the
 * request had one.
 */
export function tracedClaim(
  key: string,
  scoped: boolean,
  run: () => Promise<ClaimResult>,
): Promise<ClaimResult> {
  const attributes = { 'boxoffice.idempotency.key': key, 'boxoffice.idempotency.scoped': scoped };
  return tracing.span(SPAN.claim, attributes, run, (claim) => ({
    'boxoffice.outcome': claim.outcome,
  }));
}

/** The replay of a stored response in a span, with its status. */
export function tracedReplay(key: string, status: number, replay: () => void): void {
  const attributes = {
    'boxoffice.idempotency.key': key,
    'boxoffice.http.status_code': status,
    'boxoffice.outcome': 'replayed',
  };
  tracing.spanSync(SPAN.replay, attributes, replay);
}
