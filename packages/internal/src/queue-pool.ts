// The one "reopen a BullMQ queue after a failed call" helper (seat-lock's holds, the app's event
// publisher and payment retries). Its own entry, `@boxoffice/internal/queue-pool`, not the index:
// whatever bundles the index (every package's main entry) must not load bullmq.
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';
import { duplicateClient, type RedisClient } from './client.js';
import type { CallGuard } from './deadline.js';

interface OpenQueue {
  queue: Queue;
  connection: RedisClient;
}

/**
 * BullMQ queues used to add jobs, each on its own duplicate of `client`, opened on first use and
 * opened again after a failed call. That second part is the point: a Queue whose connection could
 * not initialise (Redis was down when the Queue was created) rejects every later call with
 * "Connection is closed." and never recovers, even once Redis is back.
 */
export class QueuePool {
  readonly #open = new Map<string, OpenQueue>();
  #closed = false;

  /**
   * @param client - the connection each queue's own connection is duplicated from.
   * @param options - BullMQ options of every queue (e.g. its `prefix`), without `connection`.
   * @param onError - receives each queue's `error` events.
   */
  constructor(
    private readonly client: RedisClient,
    private readonly options: Omit<QueueOptions, 'connection'>,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  /** Add a job to queue `queueName` (BullMQ `add`); a failure discards that queue's connection. */
  async add(queueName: string, jobName: string, data: unknown, opts?: JobsOptions): Promise<void> {
    await this.use(queueName, (queue) => queue.add(jobName, data, opts));
  }

  /**
   * Remove job `jobId` of queue `queueName` if it is waiting or delayed (BullMQ `remove`; a job a
   * worker holds the lock of stays). True if a job was removed; false if absent or locked.
   */
  async remove(queueName: string, jobId: string): Promise<boolean> {
    return (await this.use(queueName, (queue) => queue.remove(jobId))) === 1;
  }

  /**
   * Run `call` on queue `queueName`, opening it if needed. When the promise `call` returns rejects
   * (e.g. a deadline the caller put around the BullMQ call), the queue and its connection are
   * discarded, so the next call opens new ones. Throws once the pool is closed.
   */
  async use<T>(queueName: string, call: (queue: Queue) => Promise<T>): Promise<T> {
    const entry = this.#get(queueName);
    try {
      return await call(entry.queue);
    } catch (error) {
      if (this.#open.get(queueName) === entry) {
        this.#open.delete(queueName);
        void this.#dispose(entry);
      }
      throw error;
    }
  }

  /**
   * Close every queue and its connection. Idempotent; `add` afterwards throws. With `guard`, it
   * finishes in bounded time whatever Redis does: each queue's close waits at most the guard's
   * deadline (then its disconnect as long), and each connection is closed by `guard.quit`.
   */
  async close(guard?: CallGuard<Error>): Promise<void> {
    this.#closed = true;
    const entries = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(entries.map((e) => (guard ? this.#end(e, guard) : this.#dispose(e))));
  }

  #get(queueName: string): OpenQueue {
    if (this.#closed) throw new Error('QueuePool is closed');
    let entry = this.#open.get(queueName);
    if (!entry) {
      const connection = duplicateClient(this.client);
      connection.on('error', () => {}); // reported through the queue's 'error' event and add()
      const queue = new Queue(queueName, { ...this.options, connection: connection as never });
      queue.on('error', this.onError);
      entry = { queue, connection };
      this.#open.set(queueName, entry);
    }
    return entry;
  }

  async #dispose({ queue, connection }: OpenQueue): Promise<void> {
    // BullMQ does not close a connection it was given.
    await queue.close().catch(() => {});
    connection.disconnect();
  }

  async #end({ queue, connection }: OpenQueue, guard: CallGuard<Error>): Promise<void> {
    await guard
      .within('close', queue.close())
      .catch(() => guard.within('close', queue.disconnect()))
      .catch(() => {});
    await guard.quit(connection);
  }
}
