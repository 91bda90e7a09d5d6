import { isCluster, type RedisClient, type RedisScript } from '@boxoffice/internal';

interface Item {
  script: RedisScript;
  keys: readonly string[];
  args: readonly (string | number)[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Sends the script calls made in one tick as one pipeline (one write, one read) on a standalone
 * client, like ioredis' `enableAutoPipelining` does; a Cluster (where a pipeline must stay in one
 * slot) or a client already auto-pipelining gets the calls one by one. Generic: candidate for
 * @boxoffice/internal.
 */
export class Batcher {
  readonly #client: RedisClient;
  readonly #direct: boolean;
  #queue: Item[] = [];
  #scheduled = false;

  constructor(client: RedisClient) {
    this.#client = client;
    this.#direct = isCluster(client) || client.options.enableAutoPipelining === true;
  }

  run(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    if (this.#direct) return script.run(this.#client, keys, args);
    return new Promise((resolve, reject) => {
      this.#queue.push({ script, keys, args, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(() => this.#flush());
      }
    });
  }

  #flush(): void {
    const items = this.#queue;
    this.#queue = [];
    this.#scheduled = false;
    const client = this.#client;
    if (items.length === 1) {
      const it = items[0] as Item;
      it.script.run(client, it.keys, it.args).then(it.resolve, it.reject);
      return;
    }
    let exec: ReturnType<ReturnType<RedisClient['pipeline']>['exec']>;
    try {
      // Commands must be defined on the client before the pipeline is created from it.
      for (const it of items) it.script.register(client);
      const pipeline = client.pipeline();
      for (const it of items) it.script.queue(pipeline, it.keys, it.args);
      exec = pipeline.exec();
    } catch (error) {
      for (const it of items) it.reject(error);
      return;
    }
    exec.then(
      (results) => {
        items.forEach((it, i) => {
          const [error, value] = results?.[i] ?? [new Error('pipeline returned no result'), null];
          if (error) it.reject(error);
          else it.resolve(value);
        });
      },
      (error: unknown) => {
        for (const it of items) it.reject(error);
      },
    );
  }
}
