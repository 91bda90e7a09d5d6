import {
  type CallErrors,
  CallGuard,
  isCluster,
  type Pending,
  type PipelinedCommand,
  type RedisClient,
  TickPipeline,
} from '@boxoffice/internal';
import { IdempotencyStoreUnavailableError } from './errors.js';
import { type Script, scripts } from './scripts.js';

type Guard = CallGuard<IdempotencyStoreUnavailableError>;

/** How the shared CallGuard words the store's failures. */
const storeErrors: CallErrors<IdempotencyStoreUnavailableError> = {
  timeout: (operation, ms) =>
    new IdempotencyStoreUnavailableError(operation, {
      cause: new Error(`idempotency ${operation}: no answer within ${ms} ms`),
      kind: 'timeout',
    }),
  down: (operation, status) =>
    new IdempotencyStoreUnavailableError(operation, {
      cause: new Error(`Redis client is ${status}`),
      kind: 'unavailable',
    }),
  failed: (operation, error) =>
    error instanceof IdempotencyStoreUnavailableError
      ? error
      : new IdempotencyStoreUnavailableError(operation, { cause: error }),
};

/**
 * One Redis call of the store: settled by its reply, or failed with
 * {@link IdempotencyStoreUnavailableError} when Redis errs or its deadline passes first. A reply
 * that arrives after the deadline goes to `onLateReply` (ioredis queues commands while
 * reconnecting, so a command that timed out may still run later).
 */
class Call implements Pending<IdempotencyStoreUnavailableError>, PipelinedCommand {
  deadline = 0;
  settled = false;
  prev: Pending<IdempotencyStoreUnavailableError> | null = null;
  next: Pending<IdempotencyStoreUnavailableError> | null = null;

  constructor(
    private readonly guard: Guard,
    readonly operation: string,
    readonly command: string,
    readonly args: unknown[],
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: unknown) => void,
    private readonly onLateReply: ((reply: unknown) => void) | undefined,
  ) {}

  expire(error: IdempotencyStoreUnavailableError): void {
    this.reject(error);
  }

  reply(error: unknown, value: unknown): void {
    if (!this.guard.settle(this)) {
      if (error === null || error === undefined) this.onLateReply?.(value);
      return;
    }
    if (error === null || error === undefined) this.resolve(value);
    else this.reject(this.guard.failed(this.operation, error));
  }
}

/**
 * How an IdempotencyStore reaches Redis: every command under one deadline (`commandTimeoutMs`,
 * the shared CallGuard of the Redis-call layer), failing with
 * {@link IdempotencyStoreUnavailableError} (at once, `unavailable`, while the client is down); on a standalone or Sentinel client, the commands
 * of one event-loop turn leave as one pipeline (a Cluster sends directly).
 */
export class StoreTransport {
  private readonly guard: Guard;
  /** One pipeline per event-loop turn (standalone and Sentinel clients; a Cluster sends directly). */
  private readonly batcher: TickPipeline | undefined;

  constructor(
    private readonly client: RedisClient,
    commandTimeoutMs: number,
  ) {
    this.guard = new CallGuard(commandTimeoutMs, storeErrors);
    this.batcher = isCluster(client) ? undefined : new TickPipeline(client, 'turn');
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
    const down = this.guard.refuse(this.client, operation);
    if (down) return Promise.reject(down);
    return new Promise((resolve, reject) => {
      const call = new Call(this.guard, operation, command, argv, resolve, reject, onLateReply);
      try {
        this.guard.track(call);
        if (this.batcher) {
          this.batcher.send(call);
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
