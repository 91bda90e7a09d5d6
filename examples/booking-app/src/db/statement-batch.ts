// The subpath, not the index: this module is also loaded from source by the benchmarks (tsx), where
// the index's Lua imports have no loader.
import { TickBatch } from '@boxoffice/internal/tick-batch';

interface Queued<I, O> {
  item: I;
  resolve(value: O): void;
  reject(error: unknown): void;
}

/**
 * One statement for the calls of one event-loop turn: `run(item)` queues the item, and at the end
 * of the turn `many(items)` answers them all in one round trip (each statement costs the process a
 * socket write and a wake-up of a database backend, which under load is what the app spends its
 * time on). If that statement fails, each item is tried alone with `one(item)`, so one bad item
 * fails only its own call. `many` must answer the items in order.
 *
 * @example
 * const logins = new StatementBatch((names) => repo.logInAll(names), (name) => repo.logIn(name));
 * const user = await logins.run('alice');
 */
export class StatementBatch<I, O> {
  readonly #batch: TickBatch<Queued<I, O>>;

  constructor(
    many: (items: I[]) => Promise<O[]>,
    one: (item: I) => Promise<O>,
    options: { max?: number } = {},
  ) {
    this.#batch = new TickBatch<Queued<I, O>>(
      (queued) => {
        if (queued.length === 1) {
          const [q] = queued as [Queued<I, O>];
          one(q.item).then(q.resolve, q.reject);
          return;
        }
        many(queued.map((q) => q.item)).then(
          (answers) => {
            for (const [i, q] of queued.entries()) q.resolve(answers[i] as O);
          },
          () => {
            for (const q of queued) one(q.item).then(q.resolve, q.reject);
          },
        );
      },
      { defer: 'turn', max: options.max ?? 500 },
    );
  }

  /** Queue `item` for this turn's statement; resolves with its answer. */
  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => this.#batch.add({ item, resolve, reject }));
  }
}
