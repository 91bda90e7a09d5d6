import type { RedisClient } from '@boxoffice/internal';

type Reply = [Error | null, unknown];
type Chain = Record<string, (...args: unknown[]) => unknown> & {
  exec(): Promise<Reply[] | null>;
};

/** Gets the reply (or the error) of one command. */
export interface ReplyReceiver {
  reply(error: unknown, value: unknown): void;
}

interface Queued {
  readonly command: string;
  readonly args: unknown[];
  readonly receiver: ReplyReceiver;
}

/**
 * Sends the commands issued during one turn of the event loop as one pipeline, for a standalone or
 * Sentinel client. Unlike ioredis' `enableAutoPipelining` (one batch in flight per client; later
 * commands wait for its replies), each turn's batch is written at once, so a request's second
 * command never waits behind another request's batch, and a client without auto-pipelining still
 * writes one batch per turn instead of one socket write per command. Replies, errors and the
 * NOSCRIPT fallback of defined commands are ioredis' own, per command. (A generic helper: a
 * candidate for @boxoffice/internal.)
 */
export class Batcher {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(private readonly client: RedisClient) {}

  /** Queue `command` (a method of the client's pipelines, e.g. a defined script) for this turn's batch. */
  send(command: string, args: unknown[], receiver: ReplyReceiver): void {
    this.queue.push({ command, args, receiver });
    if (!this.scheduled) {
      this.scheduled = true;
      // After the I/O callbacks of this turn: every request that arrived together shares a batch.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    let pipeline: Chain;
    try {
      pipeline = this.client.pipeline() as unknown as Chain;
      for (const q of batch) {
        const fn = pipeline[q.command];
        if (typeof fn !== 'function') throw new Error(`pipelines have no command ${q.command}`);
        fn.apply(pipeline, q.args);
      }
    } catch (error) {
      for (const q of batch) q.receiver.reply(error, undefined);
      return;
    }
    pipeline.exec().then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) {
          const q = batch[i] as Queued;
          const reply = replies?.[i];
          if (reply === undefined) {
            q.receiver.reply(new Error('no reply for a pipelined command'), undefined);
          } else {
            q.receiver.reply(reply[0], reply[1]);
          }
        }
      },
      (error: unknown) => {
        for (const q of batch) q.receiver.reply(error, undefined);
      },
    );
  };
}
