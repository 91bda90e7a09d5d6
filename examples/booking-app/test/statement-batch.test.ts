import { describe, expect, it } from 'vitest';
import { UserRepository } from '../src/auth/user-repository.js';
import type { Database } from '../src/db/database.js';
import { StatementBatch } from '../src/db/statement-batch.js';
import { EventLog } from '../src/events/event-log.js';
import { count, dbBackends, useDatabase } from './helpers.js';

describe('StatementBatch', () => {
  it('answers the calls of one turn with one statement, in order; alone, with one', async () => {
    const calls: string[] = [];
    const batch = new StatementBatch(
      async (items: number[]) => {
        calls.push(`many ${items.join(',')}`);
        return items.map((i) => i * 10);
      },
      async (item: number) => {
        calls.push(`one ${item}`);
        return item * 10;
      },
    );
    expect(await Promise.all([batch.run(1), batch.run(2), batch.run(3)])).toEqual([10, 20, 30]);
    expect(await batch.run(4)).toBe(40);
    expect(calls).toEqual(['many 1,2,3', 'one 4']);
  });

  it('when the statement fails, tries each call alone: one bad item fails only its own call', async () => {
    const batch = new StatementBatch(
      async () => {
        throw new Error('one of them is bad');
      },
      async (item: string) => {
        if (item === 'bad') throw new Error(`bad item ${item}`);
        return item.toUpperCase();
      },
    );
    const answers = await Promise.allSettled([batch.run('a'), batch.run('bad'), batch.run('c')]);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value : String(a.reason)))).toEqual([
      'A',
      'Error: bad item bad',
      'C',
    ]);
  });
});

describe.each(dbBackends)('UserRepository.logIn on $name', (backend) => {
  const fixture = useDatabase(backend);

  /** The repository on a database that counts its statements. */
  const counted = () => {
    const queries: string[] = [];
    const db = new Proxy(fixture.db, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name !== 'query') return typeof value === 'function' ? value.bind(target) : value;
        return (sql: string, params?: unknown[]) => {
          queries.push(sql);
          return target.query(sql, params);
        };
      },
    }) as Database;
    return { users: new UserRepository(db), events: new EventLog(db), queries };
  };

  it('logs in the users of one turn with one statement: one row per name, one event per login', async () => {
    const { users, queries } = counted();
    const names = ['carol', 'alice', 'bob', 'alice'];
    const logged = await Promise.all(names.map((name) => users.logIn(name)));
    expect(queries).toHaveLength(1);
    expect(logged.map((u) => u.name)).toEqual(names);
    expect(logged[1]?.id).toBe(logged[3]?.id);
    expect(new Set(logged.map((u) => u.id)).size).toBe(3);
    expect(
      await count(fixture.db, 'SELECT count(*) FROM users WHERE name = ANY($1)', [names]),
    ).toBe(3);
    const events = (id: number) =>
      count(
        fixture.db,
        "SELECT count(*) FROM business_events WHERE type = 'user.login' AND user_id = $1",
        [id],
      );
    expect(await events(logged[1]?.id as number)).toBe(2);
    expect(await events(logged[0]?.id as number)).toBe(1);
    // Again later, alone: the same users, one statement each.
    expect((await users.logIn('bob')).id).toBe(logged[2]?.id);
    expect(queries).toHaveLength(2);
  });

  it('writes the business events of one turn with one statement; in a transaction, with it', async () => {
    const { events, queries } = counted();
    const subject = `batch-${Date.now()}`;
    await Promise.all(
      ['a', 'b', 'c'].map((reason) =>
        events.record({
          type: 'test.batched',
          outcome: 'failure',
          reason,
          subject,
          data: { reason },
        }),
      ),
    );
    expect(queries).toHaveLength(1);
    const rows = await fixture.db.query<{ reason: string; data: { reason: string } }>(
      'SELECT reason, data FROM business_events WHERE subject = $1 ORDER BY reason',
      [subject],
    );
    expect(rows.rows.map((r) => `${r.reason}=${r.data.reason}`)).toEqual(['a=a', 'b=b', 'c=c']);
    await fixture.db.transaction((tx) =>
      events.record({ type: 'test.batched', outcome: 'info', subject: `${subject}-tx` }, tx),
    );
    expect(
      await count(fixture.db, 'SELECT count(*) FROM business_events WHERE subject = $1', [
        `${subject}-tx`,
      ]),
    ).toBe(1);
  });
});
