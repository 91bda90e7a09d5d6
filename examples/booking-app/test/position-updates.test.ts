import { describe, expect, it } from 'vitest';
import { PositionUpdates, positionEveryMs } from '../src/concerts/rooms/position-updates.js';

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
});
