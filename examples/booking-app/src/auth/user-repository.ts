import type { Database } from '../db/database.js';
import { StatementBatch } from '../db/statement-batch.js';
import { EventLog } from '../events/event-log.js';

/** A user of the demo (identified by name only: there are no passwords in the demo login). */
export interface User {
  id: number;
  name: string;
}

/** Users table access. */
export class UserRepository {
  /** The logins of one event-loop turn, in one statement. */
  readonly #logins = new StatementBatch(
    (names: string[]) => this.#logInAll(names),
    (name: string) => this.#logIn(name),
  );

  constructor(private readonly db: Database) {}

  /**
   * The user called `name`, created on first use, with a `user.login` business event in the same
   * statement (one round trip, shared by the logins of one event-loop turn). Concurrent calls with
   * one name get one row.
   */
  logIn(name: string): Promise<User> {
    return this.#logins.run(name);
  }

  /** {@link logIn} for many names in one statement; the users in the order of `names`. */
  async #logInAll(names: string[]): Promise<User[]> {
    const event = EventLog.insert({ type: 'user.login', outcome: 'success' }, 2, {
      table: 'f JOIN u USING (name)',
      userId: 'u.id',
    });
    // Each name once (a row cannot be upserted twice in one statement), in name order (two such
    // statements lock the rows they share in the same order); one login event per call.
    const { rows } = await this.db.query<User>(
      `WITH f AS (SELECT name FROM unnest($1::text[]) AS f(name)),
       u AS (
         INSERT INTO users (name) SELECT DISTINCT name FROM f ORDER BY name
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
         RETURNING id, name),
       e AS (${event.sql})
       SELECT id, name FROM u`,
      [names, ...event.params],
    );
    const byName = new Map(rows.map((u) => [u.name, u]));
    return names.map((name) => byName.get(name) as User);
  }

  async #logIn(name: string): Promise<User> {
    const event = EventLog.insert({ type: 'user.login', outcome: 'success' }, 2, {
      table: 'u',
      userId: 'u.id',
    });
    const { rows } = await this.db.query<User>(
      `WITH u AS (
         INSERT INTO users (name) VALUES ($1)
         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
         RETURNING id, name),
       e AS (${event.sql})
       SELECT id, name FROM u`,
      [name, ...event.params],
    );
    return rows[0] as User;
  }

  /** The user with `id`, or null. */
  async get(id: number): Promise<User | null> {
    const { rows } = await this.db.query<User>('SELECT id, name FROM users WHERE id = $1', [id]);
    return rows[0] ?? null;
  }
}
