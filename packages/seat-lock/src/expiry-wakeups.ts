import type { CallGuard, RedisClient } from '@boxoffice/internal';
import { QueuePool } from '@boxoffice/internal/queue-pool';

/** The name of the BullMQ job that wakes a window's expiries. */
export const WAKEUP_JOB = 'expire-due';

/** The data of a {@link WAKEUP_JOB} job: expire the holds whose deadline is at most `until`. */
export interface WakeupData {
  until: number;
}

/**
 * The BullMQ delayed jobs that wake hold expiry. Holds whose deadlines fall in the same window of
 * `windowMs` share one job (jobId `due-<window end>`, the same in every process), which fires at
 * the window's end and expires every hold due by then: one job per window instead of one per hold,
 * so a sale placing hundreds of holds a second adds about one job a second, and a confirm removes
 * none. Each process remembers the windows it has a job for and adds each at most once.
 */
export class ExpiryWakeups {
  readonly #queues: QueuePool;
  /** Ends of the windows this process added a job for (pruned as they pass). */
  readonly #scheduled = new Set<number>();

  constructor(
    redis: RedisClient,
    bullPrefix: string,
    private readonly queueName: string,
    private readonly windowMs: number,
    onError: (error: Error) => void,
  ) {
    this.#queues = new QueuePool(redis, { prefix: bullPrefix }, onError);
  }

  /** The end of the window `deadline` (ms since epoch) falls in: the time its job fires. */
  windowEnd(deadline: number): number {
    return Math.ceil(deadline / this.windowMs) * this.windowMs;
  }

  /**
   * Make sure a job wakes at the end of `deadline`'s window. `guard` wraps the BullMQ call (a
   * deadline); a call that fails or runs past it discards the queue, and the window is tried again
   * by the next hold in it.
   */
  async schedule(
    deadline: number,
    guard: <T>(call: () => Promise<T>) => Promise<T>,
  ): Promise<void> {
    const end = this.windowEnd(deadline);
    if (this.#scheduled.has(end)) return;
    const now = Date.now();
    await this.#queues.use(this.queueName, (queue) =>
      guard(() =>
        queue.add(WAKEUP_JOB, { until: end } satisfies WakeupData, {
          jobId: `due-${end}`,
          delay: Math.max(0, end - now),
          attempts: 10,
          backoff: { type: 'exponential', delay: 1_000 },
          removeOnComplete: true,
          removeOnFail: 1_000,
        }),
      ),
    );
    for (const passed of this.#scheduled) if (passed < now) this.#scheduled.delete(passed);
    this.#scheduled.add(end);
  }

  /** Close the queue connections, each step bounded by `guard`. */
  close(guard: CallGuard<Error>): Promise<void> {
    return this.#queues.close(guard);
  }
}
