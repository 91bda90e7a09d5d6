/** The result of one statement: its rows and how many rows it returned or changed. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** Something that runs parameterised SQL (`$1`, `$2`, ...): the database or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

/** An open transaction. */
export interface Transaction extends Queryable {
  /** Run several statements separated by `;` (no parameters). */
  exec(sql: string): Promise<void>;
}

/**
 * The app's PostgreSQL, whichever engine runs it: embedded PGlite or a server reached with `pg`.
 * Both see the same SQL, the same migrations and the same schema (`search_path`).
 */
export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** The schema every statement runs in (created on open). */
  readonly schema: string;
  /** Where the data lives, for logs (no password). */
  readonly description: string;
  /** Run several statements separated by `;` (no parameters), e.g. a migration file. */
  exec(sql: string): Promise<void>;
  /**
   * Run `fn` in one transaction (READ COMMITTED): commit if it resolves, roll back if it throws.
   * Inside `fn`, use only `tx`: on PGlite a call on the Database itself waits for the transaction
   * to end, which waits for `fn` — a deadlock.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Throws {@link DatabaseUnavailableError} unless the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Quote a schema name that was validated as a lower-case identifier. */
export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new RangeError(`schema must be a lower-case SQL identifier, got ${JSON.stringify(name)}`);
  }
  return `"${name}"`;
}
