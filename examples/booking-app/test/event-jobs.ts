import type { RedisFixture } from '@boxoffice/local-redis/testing';
import { Queue } from 'bullmq';
import {
  BATCH_JOB,
  EVENTS_QUEUE,
  type PaymentSucceeded,
} from '../src/concerts/payments/booking-events.js';

const ALL_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed'] as const;

/** Reads of the `payment.succeeded` BullMQ queue, each on a connection of its own, closed after. */
export function eventJobs(redis: RedisFixture) {
  const withQueue = async <T>(fn: (queue: Queue) => Promise<T>): Promise<T> => {
    const connection = redis.connect();
    const queue = new Queue(EVENTS_QUEUE, {
      connection: connection as never,
      prefix: `${redis.prefix}:{events}`,
    });
    try {
      return await fn(queue);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  };
  return {
    withQueue,
    /** The job ids, whatever their state, sorted. */
    ids: () =>
      withQueue(async (queue) =>
        (await queue.getJobs([...ALL_STATES])).map((j) => String(j.id)).sort(),
      ),
    /** The jobs, whatever their state, with the event ids each carries. */
    list: () =>
      withQueue(async (queue) =>
        (await queue.getJobs([...ALL_STATES])).map((j) => ({
          id: String(j.id),
          events: (j.name === BATCH_JOB
            ? (j.data as { events: PaymentSucceeded[] }).events
            : [j.data as PaymentSucceeded]
          ).map((e) => e.eventId),
        })),
      ),
    /** The state of job `jobId`. */
    state: (jobId: string) => withQueue((queue) => queue.getJobState(jobId)),
  };
}
