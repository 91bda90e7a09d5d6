/**
 * Timers on a shared grid: a callback scheduled `delayMs` from now runs at the next multiple of
 * `stepMs` after that, together with every other callback due in the same step, in one timer
 * callback. The SSE streams of a process heartbeat the room through it: their `heartbeat()` calls
 * then land in the same event-loop turn, which `WaitingRoom` sends as one batched Lua call (up to
 * 256 visits) instead of one call per stream. A callback runs at most `stepMs` late (and at most a
 * quarter of `delayMs` late: shorter delays are not rounded), never early.
 */
export class BeatGrid {
  readonly #stepMs: number;
  readonly #slots = new Map<number, { timer: NodeJS.Timeout; callbacks: Set<() => void> }>();

  /** @param stepMs - Grid step. @defaultValue 250 */
  constructor(stepMs = 250) {
    this.#stepMs = stepMs;
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
        for (const callback of callbacks) {
          try {
            callback();
          } catch {
            // A callback's failure is its own: the others of the step still run.
          }
        }
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
