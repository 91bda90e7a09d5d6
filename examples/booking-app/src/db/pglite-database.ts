import { PGlite, type Results } from '@electric-sql/pglite';
import { DatabaseUnavailableError } from '../errors.js';
import { type Database, type QueryResult, quoteIdent, type Transaction } from './database.js';

/** Options of {@link PgliteDatabase.open}. */
export interface PgliteDatabaseOptions {
  /** Data directory; unset keeps everything in memory. @defaultValue undefined */
  dataDir?: string | undefined;
  /** Schema to create and use. @defaultValue 'public' */
  schema?: string;
  /**
   * An existing PGlite to borrow instead of starting one (tests share one per file, a schema per
   * test). A borrowed instance is not closed by `close()`. @defaultValue undefined
   */
  instance?: PGlite | undefined;
}

// Like pg's rowCount: rows returned by a query that returns rows, else rows changed (PGlite reports
// affectedRows = 0 for a SELECT).
function toResult<T>(result: Results<T>): QueryResult<T> {
  const returnsRows = result.fields.length > 0;
  return {
    rows: result.rows,
    rowCount: returnsRows ? result.rows.length : (result.affectedRows ?? 0),
  };
}

function unavailable(error: unknown): never {
  const message = (error as Error)?.message ?? String(error);
  // PGlite throws plain errors once closed; SQL errors carry a SQLSTATE `code` and are rethrown.
  if (/closed/i.test(message) && !(error as { code?: string }).code) {
    throw new DatabaseUnavailableError(`PGlite: ${message}`, { cause: error });
  }
  throw error;
}

/**
 * PostgreSQL compiled to WASM, embedded in the process: the default when `DATABASE_URL` is unset.
 * PGlite is a single session, so statements from concurrent requests would otherwise land inside
 * whichever transaction is open (and roll back with it): every call here takes a turn on one queue.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite';
  readonly description: string;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly pg: PGlite,
    readonly schema: string,
    private readonly owned: boolean,
    dataDir: string | undefined,
  ) {
    this.description = `embedded PGlite (${dataDir ?? 'in memory'}), schema ${schema}`;
  }

  /** Start (or borrow) a PGlite, create `schema` and make it the `search_path`. */
  static async open(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
    const schema = options.schema ?? 'public';
    const ident = quoteIdent(schema);
    const pg = options.instance ?? (await PGlite.create(options.dataDir));
    // One connection, so the search_path holds for every later statement.
    await pg.exec(`CREATE SCHEMA IF NOT EXISTS ${ident}; SET search_path TO ${ident};`);
    return new PgliteDatabase(pg, schema, !options.instance, options.dataDir);
  }

  /** Run `fn` after every call queued before it; one at a time. */
  private turn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => {});
    return run;
  }

  query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    return this.turn(async () => {
      try {
        return toResult(await this.pg.query<T>(sql, params));
      } catch (error) {
        return unavailable(error);
      }
    });
  }

  exec(sql: string): Promise<void> {
    return this.turn(async () => {
      try {
        await this.pg.exec(sql);
      } catch (error) {
        unavailable(error);
      }
    });
  }

  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.turn(() => this.runTransaction(fn));
  }

  private async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    try {
      return await this.pg.transaction(async (tx) =>
        fn({
          async query<R>(sql: string, params: unknown[] = []) {
            return toResult(await tx.query<R>(sql, params));
          },
          async exec(sql: string) {
            await tx.exec(sql);
          },
        }),
      );
    } catch (error) {
      return unavailable(error);
    }
  }

  async ping(): Promise<void> {
    if (this.pg.closed) throw new DatabaseUnavailableError('PGlite is closed');
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.owned && !this.pg.closed) await this.pg.close();
  }
}
