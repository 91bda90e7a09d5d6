import { inChunks } from './chunked.js';

/**
 * Timers on a shared grid: a callback scheduled `delayMs` from now runs at the next multiple of
 * `stepMs` after that, together with every other callback due in the same step, in one timer
 * callback. The SSE streams of a process heartbeat the room through it: their `heartbeat()` calls
 * then land in the same event-loop turn, which `WaitingRoom` sends as one batched Lua call (up to
 * 256 visits) instead of one call per stream. A callback runs at most `stepMs` late (and at most a
 * quarter of `delayMs` late: shorter delays are not rounded), never early; a crowded step runs
 * `chunk` callbacks per event-loop turn, so it never blocks the loop for long.
 */
export class BeatGrid {
  readonly #stepMs: number;
  readonly #chunk: number;
  readonly #slots = new Map<number, { timer: NodeJS.Timeout; callbacks: Set<() => void> }>();

  /**
   * @param stepMs - Grid step. @defaultValue 250
   * @param chunk - Callbacks run in one event-loop turn before the rest of the step yields
   * ({@link inChunks}); the room batches up to 256 visits per Lua call. @defaultValue 256
   */
  constructor(stepMs = 250, chunk = 256) {
    this.#stepMs = stepMs;
    this.#chunk = chunk;
  }

  /** Run `fn` at the first grid step at least `delayMs` from now; returns a cancel function. */
  schedule(fn: () => void, delayMs: number): () => void {
    const step = delayMs >= 4 * this.#stepMs ? this.#stepMs : 1;
    const at = Math.ceil((Date.now() + delayMs) / step) * step;
    let slot = this.#slots.get(at);
    if (!slot) {
      const callbacks = new Set<() => void>();
      const timer = setTimeout(() => {
        this.#slots.delete(at);
        // A callback's failure is its own: the others of the step still run.
        void inChunks(callbacks, this.#chunk, (callback) => callback());
      }, at - Date.now());
      slot = { timer, callbacks };
      this.#slots.set(at, slot);
    }
    const { callbacks } = slot;
    callbacks.add(fn);
    return () => {
      callbacks.delete(fn);
      const current = this.#slots.get(at);
      if (current && current.callbacks.size === 0) {
        clearTimeout(current.timer);
        this.#slots.delete(at);
      }
    };
  }
}
