import type { RoomStatus } from '@boxoffice/queue';
import { describe, expect, it } from 'vitest';
import {
  PositionUpdates,
  positionEveryMs,
  statusIsNews,
  streamBeatMs,
} from '../src/concerts/rooms/position-updates.js';

// The SSE stream's position pacing (pure logic: no Redis, no HTTP).
describe('PositionUpdates', () => {
  it('near the head every step is sent at once; the number only goes down', () => {
    const p = new PositionUpdates();
    p.shown(8, 0);
    expect(p.next(7, 1)).toBe(7);
    expect(p.next(7, 2)).toBeUndefined(); // unchanged
    expect(p.next(9, 3)).toBeUndefined(); // never grows
    expect(p.next(5.5, 4)).toBe(5);
    expect(p.next(0, 5)).toBe(1); // the head is position 1
  });

  it('far back: at most one event per positionEveryMs, and only for a change of 1 % or more', () => {
    const p = new PositionUpdates();
    p.shown(50_000, 0);
    expect(positionEveryMs(50_000)).toBe(5_000);
    expect(p.next(49_000, 4_999)).toBeUndefined(); // too soon
    expect(p.next(49_990, 5_000)).toBeUndefined(); // under 1 %
    expect(p.next(49_000, 5_000)).toBe(49_000);
    expect(p.next(40_000, 6_000)).toBeUndefined();
    expect(p.next(40_000, 10_000)).toBe(40_000);
  });

  it('a waiter moving from the back to the head: a few dozen events instead of one per tick', () => {
    const p = new PositionUpdates();
    p.shown(20_000, 0);
    let sent = 0;
    let lastAt = 0;
    // The line moves 50 places per 100 ms tick for 40 s.
    for (let t = 100, position = 20_000; position > 0; t += 100, position -= 50) {
      const shown = p.next(position, t);
      if (shown === undefined) continue;
      expect(t - lastAt).toBeGreaterThanOrEqual(positionEveryMs(shown));
      lastAt = t;
      sent++;
    }
    // 400 ticks; without pacing a stream would write 400 position events.
    expect(sent).toBeLessThan(40);
    expect(p.next(1, 100_000)).toBe(1);
    expect(p.next(1, 100_100)).toBeUndefined(); // at the head: nothing new
  });

  it('an exact status counts as shown, also when it is larger (a pre-queue draw)', () => {
    const p = new PositionUpdates();
    p.shown(3, 0);
    p.shown(6, 10);
    expect(p.next(5, 11)).toBe(5);
  });

  it('dueAt: the end of the pacing interval; past it with nothing to show, at most 1 s later', () => {
    const p = new PositionUpdates();
    p.shown(5, 0);
    expect(p.dueAt(10)).toBe(10); // near the head: every tick
    p.shown(50_000, 1_000);
    expect(p.dueAt(1_500)).toBe(6_000);
    expect(p.dueAt(7_000)).toBe(8_000); // due, but under 1 % changed: look again in 1 s
    p.shown(50, 10_000);
    expect(p.dueAt(10_100)).toBe(11_000);
  });

  it('called only when due (as the gateway does), a waiter still hears the line move, late by at most 1 s', () => {
    const p = new PositionUpdates();
    p.shown(20_000, 0);
    let calls = 0;
    let sent = 0;
    let due = p.dueAt(0);
    let last = 20_000;
    // The line moves 50 places per 100 ms tick for 40 s; a tick calls the stream only when due.
    for (let t = 100, position = 20_000; position > 0; t += 100, position -= 50) {
      if (t < due) continue;
      calls++;
      const shown = p.next(position, t);
      if (shown !== undefined) {
        sent++;
        last = shown;
      }
      due = p.dueAt(t);
      // What the stream shows is never more than 1 s + its pacing interval behind the line.
      expect(last - position).toBeLessThanOrEqual(50 * ((1_000 + positionEveryMs(last)) / 100));
    }
    // Against the same stream called at every tick: as many events, a fifth of the calls at most.
    const everyTick = new PositionUpdates();
    everyTick.shown(20_000, 0);
    let sentEveryTick = 0;
    for (let t = 100, position = 20_000; position > 0; t += 100, position -= 50) {
      if (everyTick.next(position, t) !== undefined) sentEveryTick++;
    }
    expect(calls).toBeLessThan(80); // of 400 ticks
    expect(sent).toBeGreaterThanOrEqual(sentEveryTick - 1);
    expect(p.next(1, 100_000)).toBe(1);
  });
});

describe('statusIsNews', () => {
  const waiting = (o: Partial<RoomStatus & { state: 'waiting' }> = {}): RoomStatus => ({
    state: 'waiting',
    position: 500,
    total: 900,
    etaMs: 60_000,
    pollAfterMs: 10_000,
    ticket: 700,
    preQueue: false,
    paused: false,
    ...o,
  });

  it('a beat that changes nothing the page shows is not news; each shown change is', () => {
    const last = waiting();
    expect(statusIsNews(last, waiting({ total: 950, pollAfterMs: 9_000 }), 500)).toBe(false);
    expect(statusIsNews(last, waiting({ etaMs: 65_000 }), 500)).toBe(false);
    expect(statusIsNews(last, waiting({ etaMs: 70_000 }), 500)).toBe(true);
    expect(statusIsNews(last, waiting({ position: 499 }), 500)).toBe(true);
    // A position event already showed 450: the exact 480 would show nothing new.
    expect(statusIsNews(last, waiting({ position: 480 }), 450)).toBe(false);
    expect(statusIsNews(last, waiting({ paused: true }), 500)).toBe(true);
    expect(statusIsNews(last, waiting({ preQueue: true }), 500)).toBe(true);
  });

  it('any other state, before or after, is news', () => {
    expect(statusIsNews(waiting(), { state: 'unknown' }, 500)).toBe(true);
    expect(statusIsNews({ state: 'unknown' }, waiting(), Number.POSITIVE_INFINITY)).toBe(true);
  });
});

describe('streamBeatMs', () => {
  it("follows the room's pace, with half the timeout's margin left before the deadline", () => {
    expect(streamBeatMs(100, 30_000)).toBe(15_100);
    expect(streamBeatMs(60_000, 30_000)).toBe(75_000);
    // The room's deadline is pollAfterMs + heartbeatTimeoutMs after the beat.
    for (const [after, timeout] of [
      [1_000, 3_000],
      [60_000, 30_000],
      [50, 100],
    ] as const) {
      expect(after + timeout - streamBeatMs(after, timeout)).toBeGreaterThanOrEqual(timeout / 2);
    }
  });
});
