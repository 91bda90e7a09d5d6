import { describe, expect, it } from 'vitest';
import { inChunks } from '../src/concerts/rooms/chunked.js';

describe('inChunks', () => {
  it('runs `size` items per event-loop turn, letting other callbacks in between', async () => {
    const log: string[] = [];
    setImmediate(() => log.push('other'));
    await inChunks([1, 2, 3, 4, 5, 6, 7], 3, (n) => log.push(String(n)));
    // The callback queued before the fan-out runs after its first chunk, not after all of it.
    expect(log).toEqual(['1', '2', '3', 'other', '4', '5', '6', '7']);
  });

  it('skips an item a Set lost before its chunk; a throwing item does not stop the others', async () => {
    const items = new Set([1, 2, 3, 4]);
    const seen: number[] = [];
    const errors: unknown[] = [];
    const done = inChunks(
      items,
      2,
      (n) => {
        if (n === 2) throw new Error('two');
        seen.push(n);
      },
      (error) => errors.push(error),
    );
    items.delete(4); // after the first chunk ran synchronously
    await done;
    expect(seen).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
  });
});
