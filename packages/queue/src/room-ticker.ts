import { randomUUID } from 'node:crypto';
import { sleep } from '@boxoffice/internal';
import type { TickResult } from './room-status.js';
import { tracedTick, tracing } from './tracing.js';

/** What a {@link RoomTicker} runs: the room's rounds and its lease. @internal */
export interface RoomTickerDeps {
  roomId: string;
  tickMs: number;
  idleTickMs: number;
  /** A pre-queue's `startsAt` (epoch ms), or -1: an idle wait never runs past it. */
  startsAt: number;
  /** One round under the lease `token`: the result, `undefined` (another instance holds the lease) or `null` (closed). */
  tick(token: string): Promise<TickResult | null | undefined>;
  /** Give the lease up, if `token` holds it. */
  release(token: string): Promise<unknown>;
  /** `work`, bounded by the room's command timeout. */
  within(operation: string, work: Promise<unknown>): Promise<unknown>;
  onTick: ((result: TickResult) => void) | undefined;
  onError: ((error: unknown) => void) | undefined;
}

/**
 * The ticker loop of one room on one instance ({@link WaitingRoom.start}): a round every `tickMs`,
 * or every `idleTickMs` after a round that found nobody waiting and nobody active — a wait that a
 * join on this instance ({@link wake}) ends at once. @internal
 */
export class RoomTicker {
  #run: { abort: AbortController; done: Promise<void>; token: string } | undefined;
  /** Ends the current idle wait; set while there is one. */
  #wake: (() => void) | undefined;
  /** A join came while no idle wait ran: the next wait is `tickMs`. */
  #joined = false;

  constructor(private readonly deps: RoomTickerDeps) {}

  /** True while the loop runs (leading or standing by). */
  get running(): boolean {
    return this.#run !== undefined;
  }

  /** Start the loop (once; a second call does nothing). */
  start(): void {
    if (this.#run) return;
    const abort = new AbortController();
    const token = randomUUID();
    const { deps } = this;
    const loop = async () => {
      while (!abort.signal.aborted) {
        const began = Date.now();
        let result: TickResult | undefined;
        try {
          const run = () => deps.tick(token);
          const r = await (tracing.on ? tracedTick(deps.roomId, true, run) : run());
          if (r === null) break;
          if (r) deps.onTick?.(r);
          result = r;
        } catch (error) {
          deps.onError?.(error);
        }
        await this.#pause(result, Date.now() - began, abort.signal);
      }
    };
    this.#run = { abort, token, done: loop() };
  }

  /** Stop the loop and give up the lease, each step bounded by the command timeout. */
  async stop(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.abort.abort();
    await this.deps.within('stop', run.done).catch(() => {});
    await this.deps.release(run.token).catch(() => {});
  }

  /** A waiter joined on this instance: an idle wait ends now. */
  wake(): void {
    if (!this.#run) return;
    if (this.#wake) this.#wake();
    else this.#joined = true;
  }

  #pause(result: TickResult | undefined, elapsedMs: number, signal: AbortSignal): Promise<void> {
    const { tickMs, idleTickMs, startsAt } = this.deps;
    const idle =
      idleTickMs > tickMs &&
      result !== undefined &&
      result.waiting === 0 &&
      result.active === 0 &&
      !this.#joined;
    this.#joined = false;
    if (!idle) return sleep(Math.max(0, tickMs - elapsedMs), signal).catch(() => {});
    const untilStart = startsAt > result.at ? startsAt - result.at : idleTickMs;
    const ms = Math.max(0, Math.min(idleTickMs, untilStart) - elapsedMs);
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}
