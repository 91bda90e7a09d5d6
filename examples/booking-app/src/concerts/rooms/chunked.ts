/**
 * Call `fn` on every item, `size` at a time, yielding to the event loop (`setImmediate`) between
 * chunks; resolves when all ran. Why: libuv accepts one new connection per event-loop iteration
 * (libuv ≥ 1.45, level-triggered), so one long synchronous fan-out — a tick to 10,000 streams —
 * holds every waiting `accept()` back for its whole length. Between chunks the loop polls again
 * and takes one. An item's `fn` that throws is its own failure: the others still run. Items are
 * read as the chunks run: a Set's item deleted before its chunk is skipped.
 */
export function inChunks<T>(
  items: Iterable<T>,
  size: number,
  fn: (item: T) => void,
  onError: (error: unknown) => void = () => {},
): Promise<void> {
  // A live iterator: an item a Set loses before its chunk comes (a cancelled beat) is skipped.
  const iterator = items[Symbol.iterator]();
  return new Promise((resolve) => {
    const runChunk = () => {
      for (let n = 0; n < size; n++) {
        const { done, value } = iterator.next();
        if (done) return resolve();
        try {
          fn(value);
        } catch (error) {
          onError(error);
        }
      }
      setImmediate(runChunk);
    };
    runChunk();
  });
}
