// The package's OpenTelemetry spans (README: Tracing): names, attributes and outcomes in one place,
// so the room only asks `tracing.on` (no closure, no attributes while it is false) and wraps.
import { type SpanAttributes, Tracing } from '@boxoffice/internal/tracing';
import type { JoinResult, TickResult } from './room-status.js';

/** The spans of `@boxoffice/queue` (a no-op without an OpenTelemetry SDK). */
export const tracing = new Tracing('@boxoffice/queue', __PACKAGE_VERSION__);

/** Span names. */
export const SPAN = { join: 'boxoffice.queue.join', tick: 'boxoffice.queue.tick' } as const;

/**
 * `join` in a span: outcome `waiting` (with position and pre-queue) or `active`. The user id is
 * not recorded (it may identify a person; spans go to whatever backend the app configured).
 */
export function tracedJoin(roomId: string, run: () => Promise<JoinResult>): Promise<JoinResult> {
  return tracing.span(
    SPAN.join,
    { 'boxoffice.room_id': roomId },
    run,
    (r): SpanAttributes =>
      r.state === 'waiting'
        ? {
            'boxoffice.outcome': 'waiting',
            'boxoffice.queue.position': r.position,
            'boxoffice.queue.pre_queue': r.preQueue,
          }
        : { 'boxoffice.outcome': 'active' },
  );
}

/**
 * One admission round in a span (`ticker`: run by `start()`'s loop): outcome `ticked` with the
 * counts, `not-leader` when another instance holds the ticker lease, or `closed`.
 */
export function tracedTick<T extends TickResult | null | undefined>(
  roomId: string,
  ticker: boolean,
  run: () => Promise<T>,
): Promise<T> {
  const attributes = { 'boxoffice.room_id': roomId, 'boxoffice.queue.ticker': ticker };
  return tracing.span(SPAN.tick, attributes, run, (r): SpanAttributes => {
    if (r === undefined) return { 'boxoffice.outcome': 'not-leader' };
    if (r === null) return { 'boxoffice.outcome': 'closed' };
    return {
      'boxoffice.outcome': 'ticked',
      'boxoffice.queue.tick': r.tick,
      'boxoffice.queue.admitted': r.admitted.length,
      'boxoffice.queue.evicted': r.evicted.length,
      'boxoffice.queue.expired': r.expired.length,
      'boxoffice.queue.waiting': r.waiting,
    };
  });
}
