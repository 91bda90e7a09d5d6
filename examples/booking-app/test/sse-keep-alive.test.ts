import { describe, expect, it } from 'vitest';
import { KeepAlive } from '../src/concerts/rooms/sse-keep-alive.js';

describe('KeepAlive', () => {
  it('a silent stream gets a comment every other check: the comment counts as a write', () => {
    const k = new KeepAlive();
    expect([k.due(), k.due(), k.due(), k.due(), k.due()]).toEqual([true, false, true, false, true]);
  });

  it('a stream that wrote since the last check gets none, and is never quiet past two checks', () => {
    const k = new KeepAlive();
    k.wrote();
    expect(k.due()).toBe(false); // wrote since the start
    expect(k.due()).toBe(true); // quiet for a whole interval: comment
    k.wrote();
    expect(k.due()).toBe(false);
    k.wrote();
    expect(k.due()).toBe(false);
    expect(k.due()).toBe(true);
  });
});
