import { describe, expect, it } from 'vitest';
import { BeatGrid } from '../src/concerts/rooms/beat-grid.js';

// Real timers, small steps: the grid's promises are about order and grouping, checked by waiting
// for the callbacks themselves (each with a bound), never by sleeping.
/**
 * Callbacks that run in one timer callback share a `turn`: a microtask scheduled by the first of
 * them ends the turn, and Node runs microtasks between two timer callbacks, never inside one.
 */
let turn = 0;
let turnOpen = false;
const currentTurn = () => {
  if (!turnOpen) {
    turnOpen = true;
    queueMicrotask(() => {
      turn++;
      turnOpen = false;
    });
  }
  return turn;
};

const ran = (grid: BeatGrid, delays: number[]) =>
  Promise.all(
    delays.map(
      (delay) =>
        new Promise<{ delay: number; turn: number; late: number }>((resolve) => {
          const scheduledAt = Date.now();
          grid.schedule(() => {
            resolve({ delay, turn: currentTurn(), late: Date.now() - scheduledAt - delay });
          }, delay);
        }),
    ),
  );

describe('BeatGrid', () => {
  it('runs callbacks due in one step together, never early', async () => {
    const grid = new BeatGrid(40);
    const runs = await ran(grid, [160, 170, 175, 190]);
    for (const r of runs) expect(r.late).toBeGreaterThanOrEqual(-1); // timer granularity
    // 160..190 ms from now fall into at most two 40 ms steps: two timer callbacks, not four.
    expect(new Set(runs.map((r) => r.turn)).size).toBeLessThanOrEqual(2);
  });

  it('does not round a delay shorter than four steps', async () => {
    const grid = new BeatGrid(1_000);
    const [run] = await ran(grid, [30]);
    expect(run?.late).toBeGreaterThanOrEqual(-1);
    expect(run?.late).toBeLessThan(1_000); // a 1 s step would have made it up to 1 s late
  });

  it('a cancelled callback does not run; a throwing one does not stop its step', async () => {
    const grid = new BeatGrid(20);
    let cancelledRan = false;
    const cancel = grid.schedule(() => {
      cancelledRan = true;
    }, 100);
    cancel();
    grid.schedule(() => {
      throw new Error('boom');
    }, 100);
    const [other] = await ran(grid, [100]);
    expect(other?.late).toBeGreaterThanOrEqual(-1);
    expect(cancelledRan).toBe(false);
  });
});
