import { createHash } from 'node:crypto';
import pg from 'pg';
import { describeConnection } from '../connection-string.js';
import { DatabaseUnavailableError } from '../errors.js';
import { type Database, type QueryResult, quoteIdent, type Transaction } from './database.js';

/** Options of {@link PgDatabase.open}. */
export interface PgDatabaseOptions {
  /** `postgres://user@host:port/db`. */
  url: string;
  /** Schema to create and use. @defaultValue 'public' */
  schema?: string;
  /** Pool size. @defaultValue 10 */
  poolMax?: number;
  /** How long to wait for a connection before answering 503. @defaultValue 5000 */
  connectTimeoutMs?: number;
}

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash).
const UNAVAILABLE_SQLSTATE = /^(08|57P)/;
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
]);

function classify(error: unknown): never {
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  if (
    (e?.code && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) ||
    /timeout exceeded when trying to connect|Connection terminated|Cannot use a pool after calling end/i.test(
      message,
    ) ||
    (error instanceof AggregateError && error.errors.some((x) => UNAVAILABLE_ERRNO.has(x?.code)))
  ) {
    throw new DatabaseUnavailableError(`PostgreSQL: ${message || e.code}`, { cause: error });
  }
  throw error;
}

/** Names of the prepared statements, by SQL text (a bounded number: the app's SQL is static). */
const statementNames = new Map<string, string>();
const MAX_PREPARED = 500;

/**
 * A query with parameters as a named (prepared) statement: each pooled connection parses and plans
 * it once and then only binds and executes it — the database spends less CPU per call, and it
 * shares the machine with the app. The name is a hash of the text, so one text has one name on
 * every connection; texts beyond the first {@link MAX_PREPARED} stay unnamed.
 */
function statement(sql: string, params: unknown[]): pg.QueryConfig {
  if (params.length === 0) return { text: sql };
  let name = statementNames.get(sql);
  if (name === undefined && statementNames.size < MAX_PREPARED) {
    name = `bo_${createHash('sha1').update(sql).digest('base64url').slice(0, 20)}`;
    statementNames.set(sql, name);
  }
  return name === undefined ? { text: sql, values: params } : { name, text: sql, values: params };
}

/** A PostgreSQL server through a `pg` pool: used when `DATABASE_URL` is set. */
export class PgDatabase implements Database {
  readonly kind = 'postgres';
  readonly description: string;

  private constructor(
    private readonly pool: pg.Pool,
    readonly schema: string,
    url: string,
  ) {
    this.description = `PostgreSQL ${describeConnection(url, 'DATABASE_URL')}, schema ${schema}`;
  }

  /** Connect a pool whose every connection uses `schema` (created here if missing). */
  static async open(options: PgDatabaseOptions): Promise<PgDatabase> {
    const schema = options.schema ?? 'public';
    const ident = quoteIdent(schema);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      // Every pooled connection starts in the schema: no `SET` per checkout.
      options: `-c search_path=${ident}`,
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const db = new PgDatabase(pool, schema, options.url);
    try {
      await db.exec(`CREATE SCHEMA IF NOT EXISTS ${ident}`);
    } catch (error) {
      // Two instances creating the schema at once: IF NOT EXISTS is not atomic, the loser sees a
      // unique violation on the catalog, and the schema exists, which is all we wanted.
      if ((error as { code?: string }).code !== '23505') {
        await pool.end().catch(() => {});
        throw error;
      }
    }
    return db;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    try {
      const result = await this.pool.query(statement(sql, params));
      return { rows: result.rows as T[], rowCount: result.rowCount ?? result.rows.length };
    } catch (error) {
      return classify(error);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (error) {
      classify(error);
    }
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return classify(error);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn({
        async query<R>(sql: string, params: unknown[] = []) {
          const r = await client.query(statement(sql, params));
          return { rows: r.rows as R[], rowCount: r.rowCount ?? r.rows.length };
        },
        async exec(sql: string) {
          await client.query(sql);
        },
      });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      return classify(error);
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
