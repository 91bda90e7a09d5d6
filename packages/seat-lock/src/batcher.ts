import { isCluster, type RedisClient, type RedisScript } from '@boxoffice/internal';

interface Corkable {
  cork(): void;
  uncork(): void;
  writable?: boolean;
}

/**
 * Makes the script calls issued in one tick leave in one socket write (one syscall for the client,
 * one read for Redis), like ioredis' `enableAutoPipelining`, but without building an ioredis
 * `Pipeline` per tick: the first call of a tick corks the client's socket and a `nextTick` uncorks
 * it, so every command of the tick is sent as the usual EVALSHA with its own promise. (A Pipeline
 * per tick allocates enough per command that, at tens of thousands of calls per second, most of the
 * client's CPU went to garbage collection.) A Cluster, a client already auto-pipelining, or a socket
 * that is not connected gets the calls unchanged. Generic: candidate for @boxoffice/internal.
 */
export class Batcher {
  readonly #client: RedisClient;
  readonly #direct: boolean;
  #corked: Corkable | undefined;
  readonly #uncork = () => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };

  constructor(client: RedisClient) {
    this.#client = client;
    this.#direct = isCluster(client) || client.options.enableAutoPipelining === true;
  }

  run(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    this.#cork();
    return script.run(this.#client, keys, args);
  }

  /** Send one plain command (`call` issues it on this batcher's client) with the tick's batch. */
  send<T>(call: () => Promise<T>): Promise<T> {
    this.#cork();
    return call();
  }

  #cork(): void {
    if (!this.#direct && this.#corked === undefined) {
      const stream = (this.#client as { stream?: Corkable }).stream;
      if (
        this.#client.status === 'ready' &&
        stream?.writable &&
        typeof stream.cork === 'function'
      ) {
        stream.cork();
        this.#corked = stream;
        process.nextTick(this.#uncork);
      }
    }
  }
}
