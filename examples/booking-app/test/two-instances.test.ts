import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { PgDatabase } from '../src/db/pg-database.js';
import { call, count, POSTGRES_URL, randomSchema, streamToken, waitFor } from './helpers.js';
import { killServers, start, stopped } from './server-process.js';
import { openSse } from './sse.js';

afterEach(killServers);

const standalone = redisTargets()[0] as ReturnType<typeof redisTargets>[number];

// Two processes of the built server on one PostgreSQL schema and one Redis: the issue's "two
// instances behave as one service", and the browser test's scenario (capacity 1, the second user
// admitted after the first pays) over HTTP.
describe('two dist/server.js processes', () => {
  const redis = useRedis(standalone);

  it('share the room (capacity 1), tokens, holds, payments and events', async () => {
    const schema = randomSchema();
    const { standaloneUrl } = inject('boxofficeRedis') as { standaloneUrl: string };
    const env = {
      DATABASE_URL: POSTGRES_URL,
      DATABASE_SCHEMA: schema,
      REDIS_URL: standaloneUrl,
      REDIS_PREFIX: redis.prefix,
      JWT_SECRET: 'two-instances-secret-two-instances-secret',
      QUEUE_MAX_ACTIVE: '1',
      QUEUE_TICK_MS: '100',
      PG_LATENCY_MS: '5',
    };
    const db = await PgDatabase.open({ url: POSTGRES_URL, schema });
    try {
      const a = await start(env);
      const b = await start(env);
      const login = async (base: string, name: string) =>
        (await call(base, 'POST', '/auth/demo-login', { body: { name } })).body.token as string;
      const alice = await login(a.url, 'alice');
      const bob = await login(b.url, 'bob');

      expect((await call(a.url, 'POST', '/concerts/3/queue', { token: alice })).status).toBe(200);
      const aliceActive = await waitFor(
        async () => (await call(b.url, 'GET', '/concerts/3/queue', { token: alice })).body,
        (s) => s.state === 'active',
      );
      expect((await call(b.url, 'POST', '/concerts/3/queue', { token: bob })).body).toMatchObject({
        state: 'waiting',
        position: 1,
      });
      // Bob waits on a stream served by instance B, with a stream token instance A issued.
      const stream = await openSse(
        `${b.url}/concerts/3/queue/events?access_token=${await streamToken(a.url, bob, 3)}`,
      );
      expect(await stream.next(() => true)).toMatchObject({
        event: 'status',
        data: { state: 'waiting' },
      });

      // Alice reserves through B with the token A's room issued, and pays through A.
      const seats = (await call(a.url, 'GET', '/concerts/3')).body.seats as { id: number }[];
      const held = await call(b.url, 'POST', '/concerts/3/reservations', {
        token: aliceActive.token,
        body: { seatIds: [seats[0]?.id, seats[1]?.id] },
      });
      expect(held.status).toBe(201);
      const paid = await call(a.url, 'POST', '/payments', {
        token: held.body.paymentToken,
        body: { reservationId: held.body.reservation.id },
        headers: { 'idempotency-key': '"two-instances-1"' },
      });
      expect(paid.status).toBe(201);
      expect(paid.body.payment.status).toBe('SUCCEEDED');

      // Alice's purchase freed the only slot: Bob is told it is his turn, with a token.
      const admitted = await stream.next((e) => e.event === 'admitted');
      expect(admitted.data).toMatchObject({ state: 'active' });
      expect(typeof admitted.data.token).toBe('string');
      await stream.close();

      expect(
        await count(db, "SELECT count(*) FROM seats WHERE concert_id = 3 AND status = 'ASSIGNED'"),
      ).toBe(2);
      // Both processes run the consumers; each consumer handled the event once.
      const consumed = () =>
        count(
          db,
          "SELECT count(*) FROM business_events WHERE type IN ('email.sent', 'sales.recorded')",
        );
      await waitFor(consumed, (n) => n === 2);
      await new Promise((r) => setTimeout(r, 500));
      expect(await consumed()).toBe(2);

      // A logout on A revokes Bob's token on B too, and the stream tokens issued against it.
      const bobStream = await streamToken(b.url, bob, 3);
      expect((await call(a.url, 'POST', '/auth/logout', { token: bob })).status).toBe(204);
      const me = await call(b.url, 'GET', '/me', { token: bob });
      expect(me).toMatchObject({ status: 401, body: { code: 'token-revoked' } });
      const reopened = await call(
        b.url,
        'GET',
        `/concerts/3/queue/events?access_token=${bobStream}`,
      );
      expect(reopened).toMatchObject({ status: 401, body: { code: 'token-revoked' } });
      expect((await call(b.url, 'GET', '/me', { token: alice })).status).toBe(200);

      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect(await stopped(a.child)).toBe(0);
      expect(await stopped(b.child)).toBe(0);
    } finally {
      await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await db.close();
    }
  });
});
