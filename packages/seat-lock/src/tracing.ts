// The package's OpenTelemetry spans (README: Tracing): names, attributes and outcomes in one place,
// so the classes only ask `tracing.on` (no closure, no attributes while it is false) and wrap.
import { type SpanAttributes, Tracing } from '@boxoffice/internal/tracing';
import type { Lease } from './lease.js';
import type { Decision, ExpireOutcome, Hold, PlacedHold } from './seat-holds.js';

/** The spans of `@boxoffice/seat-lock` (a no-op without an OpenTelemetry SDK). */
export const tracing = new Tracing('@boxoffice/seat-lock', __PACKAGE_VERSION__);

/** Span names. */
export const SPAN = {
  acquire: 'boxoffice.seat_lock.acquire',
  handoff: 'boxoffice.seat_lock.handoff',
  place: 'boxoffice.holds.place',
  confirm: 'boxoffice.holds.confirm',
  expire: 'boxoffice.holds.expire',
} as const;

function leaseOutcome(lease: Lease | null): SpanAttributes {
  return lease
    ? {
        'boxoffice.outcome': 'acquired',
        'boxoffice.fences': [...lease.fences.values()].map(String),
      }
    : { 'boxoffice.outcome': 'taken' };
}

/** `acquire` / `tryAcquire` (`call`) of `resources` in a span; `extra` are call attributes. */
export function tracedAcquire<T extends Lease | null>(
  call: 'acquire' | 'tryAcquire',
  resources: readonly string[],
  extra: SpanAttributes,
  run: () => Promise<T>,
): Promise<T> {
  const attributes = {
    'boxoffice.resources': [...resources],
    'boxoffice.seat_lock.call': call,
    ...extra,
  };
  return tracing.span(SPAN.acquire, attributes, run, leaseOutcome);
}

/** A lock handed to this waiter by its releaser at `at` (ms since the epoch): a span from then. */
export function tracedHandoff(resource: string, fence: bigint, at: number): void {
  if (!tracing.on) return;
  tracing.event(
    SPAN.handoff,
    { 'boxoffice.resource': resource, 'boxoffice.fence': String(fence) },
    at,
  );
}

/** `place` in a span: outcome `placed` with the hold id, or `taken`. */
export function tracedPlace(
  resources: readonly string[],
  run: () => Promise<PlacedHold | null>,
): Promise<PlacedHold | null> {
  return tracing.span(
    SPAN.place,
    { 'boxoffice.resources': [...resources] },
    run,
    (hold): SpanAttributes =>
      hold
        ? { 'boxoffice.outcome': 'placed', 'boxoffice.hold_id': hold.holdId }
        : { 'boxoffice.outcome': 'taken' },
  );
}

/** `confirm` in a span: outcome `confirmed`, or `lost` with the state the hold is in. */
export function tracedConfirm(holdId: string, run: () => Promise<Decision>): Promise<Decision> {
  return tracing.span(SPAN.confirm, { 'boxoffice.hold_id': holdId }, run, (decision) => ({
    'boxoffice.outcome': decision.ok ? 'confirmed' : 'lost',
    'boxoffice.hold_state': decision.state,
  }));
}

/** The expiry of a claimed hold (onExpire and the seats' release) in a span. */
export function tracedExpire(
  hold: Hold,
  run: () => Promise<ExpireOutcome>,
): Promise<ExpireOutcome> {
  const attributes = {
    'boxoffice.hold_id': hold.holdId,
    'boxoffice.resources': [...hold.resources],
  };
  return tracing.span(SPAN.expire, attributes, run, (outcome) => ({
    'boxoffice.outcome': outcome,
  }));
}
