import { duplicateClient, type RedisClient } from '@boxoffice/internal';
import { QueuePool } from '@boxoffice/internal/queue-pool';
import { Worker } from 'bullmq';
import type { Logger } from 'pino';

const QUEUE = 'payment-retries';

/** The job of the retry that follows attempt `attempt` of a payment: one per attempt, never two. */
const jobId = (paymentId: string, attempt: number) => `${paymentId}-${attempt}`;

/**
 * The payment retry jobs (BullMQ queue `payment-retries` under `<prefix>:{payments}`): one delayed
 * job per gateway timeout, and this process's worker that runs them. Redis may lose a job; the
 * payment row stays RETRY_SCHEDULED and the recovery runs the retry once it is overdue, so a job is
 * a wake-up call, never the record of the retry.
 */
export class PaymentRetries {
  // Opened at the first retry (an app that never times out opens no connection for it), and again
  // after a failed call.
  readonly #queue: QueuePool;
  #worker: Worker | undefined;
  #workerConnection: RedisClient | undefined;

  constructor(private readonly deps: { client: RedisClient; prefix: string; logger: Logger }) {
    this.#queue = new QueuePool(deps.client, { prefix: `${deps.prefix}:{payments}` });
  }

  /** Queue the retry that follows attempt `attempt` of `paymentId`, due in `delayMs`. */
  async schedule(paymentId: string, attempt: number, delayMs: number): Promise<void> {
    await this.#queue.add(
      QUEUE,
      'retry',
      { paymentId, attempt },
      {
        delay: delayMs,
        jobId: jobId(paymentId, attempt),
        attempts: 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: 1000,
        removeOnFail: 5000,
      },
    );
  }

  /**
   * Drop the retry jobs of a payment that has settled after `attempts` attempts. A settled payment's
   * job would do nothing when it ran (its claim is guarded by the attempt number), but it would
   * wait in Redis until its delay passed — e.g. when the recovery ran an overdue retry first. A job
   * a worker is running stays (it is the one settling, or finds nothing to do). Best effort: a
   * Redis failure is logged, never the payment's failure.
   */
  async forget(paymentId: string, attempts: number): Promise<void> {
    if (attempts < 1) return;
    const ids = Array.from({ length: attempts }, (_, k) => jobId(paymentId, k + 1));
    try {
      await Promise.all(ids.map((id) => this.#queue.remove(QUEUE, id)));
    } catch (error) {
      this.deps.logger.warn({ err: error, paymentId }, 'could not remove settled retry jobs');
    }
  }

  /**
   * Start this process's worker: `run(paymentId, attempt)` for each due job (`attempt` is absent in
   * jobs queued by older versions). A job is claimed by a guarded UPDATE, so a duplicate delivery
   * does nothing; `run` throws only for a failure worth retrying the job for.
   */
  start(run: (paymentId: string, attempt: number | undefined) => Promise<void>): void {
    if (this.#worker) return;
    this.#workerConnection = duplicateClient(this.deps.client, { maxRetriesPerRequest: null });
    this.#worker = new Worker(
      QUEUE,
      async (job) => {
        const { paymentId, attempt } = job.data as { paymentId: string; attempt?: number };
        await run(paymentId, attempt);
      },
      {
        connection: this.#workerConnection as never,
        prefix: `${this.deps.prefix}:{payments}`,
        concurrency: 4,
        // A job whose worker died is handed out again within ~5 s (BullMQ's defaults: up to a
        // minute), so the queue drains soon after a crash. The lock is renewed every 1.5 s; a job
        // taken for stalled while merely slow runs twice, and its second claim (a guarded UPDATE)
        // does nothing.
        lockDuration: 3_000,
        stalledInterval: 1_000,
      },
    );
    this.#worker.on('error', (error) =>
      this.deps.logger.warn({ err: error }, 'payment retry worker error'),
    );
  }

  /** Stop the worker and the queue; close their connections. */
  async close(): Promise<void> {
    await this.#worker?.close();
    await this.#queue.close();
    this.#workerConnection?.disconnect();
  }
}
