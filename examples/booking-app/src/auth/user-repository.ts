import type { Database } from '../db/database.js';
import { EventLog } from '../events/event-log.js';

/** A user of the demo (identified by name only: there are no passwords in the demo login). */
export interface User {
  id: number;
  name: string;
}

/** Users table access. */
export class UserRepository {
  constructor(private readonly db: Database) {}

  /**
   * The user called `name`, created on first use, with a `user.login` business event in the same
   * statement (one round trip). Concurrent calls with one name get one row.
   */
  async logIn(name: string): Promise<User> {
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
