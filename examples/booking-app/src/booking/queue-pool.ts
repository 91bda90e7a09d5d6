import { duplicateClient, type RedisClient } from '@boxoffice/internal';
import { type JobsOptions, Queue, type QueueOptions } from 'bullmq';

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

  constructor(
    private readonly client: RedisClient,
    private readonly options: Omit<QueueOptions, 'connection'>,
    private readonly onError: (error: Error) => void = () => {},
  ) {}

  /** Add a job to queue `queueName` (BullMQ `add`); a failure discards that queue's connection. */
  async add(queueName: string, jobName: string, data: unknown, opts?: JobsOptions): Promise<void> {
    await this.#use(queueName, (queue) => queue.add(jobName, data, opts));
  }

  /**
   * Remove job `jobId` of queue `queueName` if it is waiting or delayed (BullMQ `remove`; a job a
   * worker holds the lock of stays). True if a job was removed; false if absent or locked.
   */
  async remove(queueName: string, jobId: string): Promise<boolean> {
    return (await this.#use(queueName, (queue) => queue.remove(jobId))) === 1;
  }

  async #use<T>(queueName: string, call: (queue: Queue) => Promise<T>): Promise<T> {
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

  /** Close every queue and its connection. Idempotent; `add` afterwards throws. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(entries.map((e) => this.#dispose(e)));
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
}
