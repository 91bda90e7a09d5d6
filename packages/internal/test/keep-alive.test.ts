import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepAlive, type Renewal, whileRenewing } from '../src/index.js';

function lease(renew: () => Promise<unknown>, maxMs = Number.POSITIVE_INFINITY): Renewal {
  const now = Date.now();
  return {
    renewStartedAt: now,
    renewedAt: now,
    renewMaxMs: maxMs,
    renewBusy: false,
    renewStopped: false,
    renewSlot: -1,
    renew,
    renewOnLost: vi.fn(),
    renewOnError: vi.fn(),
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('KeepAlive', () => {
  it('renews each lease once it is due, checked every period', async () => {
    const loop = new KeepAlive(10, 30);
    const renew = vi.fn(async () => true);
    loop.add(lease(renew));
    await vi.advanceTimersByTimeAsync(20);
    expect(renew).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(10);
    expect(renew).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60);
    expect(renew).toHaveBeenCalledTimes(3);
    loop.stop();
  });

  it('never renews one lease twice at once', async () => {
    const loop = new KeepAlive(10, 0);
    let answer: (() => void) | undefined;
    const renew = vi.fn(() => new Promise<boolean>((r) => (answer = () => r(true))));
    loop.add(lease(renew));
    await vi.advanceTimersByTimeAsync(50);
    expect(renew).toHaveBeenCalledTimes(1);
    answer?.();
    await vi.advanceTimersByTimeAsync(10);
    expect(renew).toHaveBeenCalledTimes(2);
    loop.stop();
  });

  it('a lost lease: onLost once, no more renewals; an error: onError, renewal goes on', async () => {
    const loop = new KeepAlive(10, 0);
    const lost = lease(async () => false);
    const failing = lease(async () => {
      throw new Error('down');
    });
    loop.add(lost);
    loop.add(failing);
    await vi.advanceTimersByTimeAsync(40);
    expect(lost.renewOnLost).toHaveBeenCalledTimes(1);
    expect(lost.renewOnLost).toHaveBeenCalledWith(lost);
    expect(lost.renewStopped).toBe(true);
    expect(failing.renewOnError).toHaveBeenCalledTimes(4);
    expect(failing.renewOnError).toHaveBeenCalledWith(new Error('down'), failing);
    loop.stop();
  });

  it('stops a lease at remove (before or after its first tick) and after renewMaxMs', async () => {
    const loop = new KeepAlive(10, 0);
    const early = lease(vi.fn(async () => true));
    const late = lease(vi.fn(async () => true));
    const bounded = lease(
      vi.fn(async () => true),
      25,
    );
    for (const r of [early, late, bounded]) loop.add(r);
    loop.remove(early);
    await vi.advanceTimersByTimeAsync(10);
    loop.remove(late);
    await vi.advanceTimersByTimeAsync(100);
    expect(early.renew).toHaveBeenCalledTimes(0);
    expect(late.renew).toHaveBeenCalledTimes(1);
    expect(bounded.renew).toHaveBeenCalledTimes(2);
    expect(bounded.renewStopped).toBe(true);
    // Nothing left: the timer is gone.
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('whileRenewing', () => {
  it('renews every period while the work runs, and not after; errors go to onError', async () => {
    const renew = vi.fn(async () => 0);
    const onError = vi.fn();
    let finish: (() => void) | undefined;
    const work = whileRenewing(
      10,
      renew,
      onError,
      () => new Promise<string>((r) => (finish = () => r('done'))),
    );
    await vi.advanceTimersByTimeAsync(35);
    expect(renew).toHaveBeenCalledTimes(3);
    renew.mockRejectedValueOnce(new Error('down'));
    await vi.advanceTimersByTimeAsync(10);
    expect(onError).toHaveBeenCalledWith(new Error('down'));
    finish?.();
    await expect(work).resolves.toBe('done');
    await vi.advanceTimersByTimeAsync(50);
    expect(renew).toHaveBeenCalledTimes(4);
    expect(vi.getTimerCount()).toBe(0);
  });
});
