import { isCluster, type RedisClient } from '@boxoffice/internal';
import { Batcher, type ReplyReceiver } from './batch.js';
import { IdempotencyStoreUnavailableError } from './errors.js';
import { type Script, scripts } from './scripts.js';
import { type Deadline, Deadlines } from './timeout.js';

/**
 * One Redis call of the store: settled by its reply, or failed with
 * {@link IdempotencyStoreUnavailableError} when Redis errs or its deadline passes first. A reply
 * that arrives after the deadline goes to `onLateReply` (ioredis queues commands while
 * reconnecting, so a command that timed out may still run later).
 */
class Call implements Deadline, ReplyReceiver {
  readonly deadline: number;
  settled = false;

  constructor(
    private readonly deadlines: Deadlines,
    private readonly operation: string,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onLateReply: ((reply: unknown) => void) | undefined,
  ) {
    this.deadline = Date.now() + deadlines.ms;
  }

  expire(error: Error): void {
    this.reject(
      new IdempotencyStoreUnavailableError(this.operation, {
        cause: new Error(`idempotency ${this.operation}: ${error.message}`),
        kind: 'timeout',
      }),
    );
  }

  reply(error: unknown, value: unknown): void {
    if (!this.deadlines.finish(this)) {
      if (error === null || error === undefined) this.onLateReply?.(value);
      return;
    }
    if (error === null || error === undefined) this.resolve(value);
    else this.reject(new IdempotencyStoreUnavailableError(this.operation, { cause: error }));
  }
}

/**
 * How an IdempotencyStore reaches Redis: every command under one deadline (`timeoutMs`), failing
 * with {@link IdempotencyStoreUnavailableError}; on a standalone or Sentinel client, the commands
 * of one event-loop turn leave as one pipeline (a Cluster sends directly).
 */
export class StoreTransport {
  private readonly deadlines: Deadlines;
  /** One pipeline per event-loop turn (standalone and Sentinel clients; a Cluster sends directly). */
  private readonly batcher: Batcher | undefined;

  constructor(
    private readonly client: RedisClient,
    timeoutMs: number,
  ) {
    this.deadlines = new Deadlines(timeoutMs);
    this.batcher = isCluster(client) ? undefined : new Batcher(client);
    // Define every script now, not on first use: with `enableAutoPipelining`, ioredis copies the
    // defined commands into each auto-pipeline when it creates it, so a script first defined while a
    // pipeline is open for the current tick is missing from it (and ioredis then fails the batch).
    for (const script of Object.values(scripts)) script.register(client);
  }

  /** Run `script` on `key` (binaryReply: bulk replies as Buffers). */
  exec(
    operation: string,
    script: Script,
    key: string,
    args: (string | number | Buffer)[],
    onLateReply?: (reply: unknown) => void,
    binaryReply = false,
  ): Promise<unknown> {
    // ioredis defines `<command>Buffer` beside every script command: bulk replies as Buffers, so
    // stored bodies come back byte for byte without an encoding step. The scripts were defined on
    // this client in the constructor.
    const argv: unknown[] = [1, key];
    for (const arg of args) argv.push(arg);
    return this.send(
      operation,
      binaryReply ? script.bufferCommand : script.command,
      argv,
      onLateReply,
    );
  }

  /** Send one command (a method name of the client and its pipelines) under the store's deadline. */
  send(
    operation: string,
    command: string,
    argv: unknown[],
    onLateReply?: (reply: unknown) => void,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call = new Call(this.deadlines, operation, resolve, reject, onLateReply);
      try {
        this.deadlines.start(call);
        if (this.batcher) {
          this.batcher.send(command, argv, call);
        } else {
          const fn = (
            this.client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
          )[command] as (...a: unknown[]) => Promise<unknown>;
          fn.apply(this.client, argv).then(
            (value) => call.reply(null, value),
            (error: unknown) => call.reply(error, undefined),
          );
        }
      } catch (error) {
        call.reply(error, undefined);
      }
    });
  }
}
