import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import type { TickResult } from '@boxoffice/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { ConcertRooms } from '../src/concerts/rooms/concert-rooms.js';
import type { QueueSettings } from '../src/concerts/rooms/queue-settings.js';
import { createLogger } from '../src/observability/logger.js';
import { AppMetrics } from '../src/observability/metrics.js';
import { call, dbBackends, listen, SECRET, streamToken, useDatabase, waitFor } from './helpers.js';
import { openSse } from './sse.js';

const pglite = dbBackends[0] as (typeof dbBackends)[number];

// The waiting room lives in Redis; the database only answers "does the concert exist", so these
// run on both Redis targets with the embedded database.
describe.each(redisTargets())('waiting room API on $name', (target) => {
  const fixture = useDatabase(pglite, { seed: true });
  const redis = useRedis(target);
  const auth = new DemoAuth({ secret: SECRET });
  const opened: { close(): Promise<unknown> }[] = [];

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  /** One app instance with its own Redis client and rooms (ticking unless told otherwise). */
  const instance = async (
    settings: Partial<QueueSettings> = {},
    options: { tick?: boolean; onTick?: (id: number, r: TickResult) => void } = {},
  ) => {
    const client = redis.connect();
    const rooms = new ConcertRooms(client, {
      secret: SECRET,
      prefix: redis.prefix,
      settings: { maxActive: 1, admitPerTick: 1, tickMs: 100, ...settings },
      tick: options.tick ?? true,
      onTick: options.onTick,
      logger: createLogger('silent'),
    });
    const app = createApp({
      db: fixture.db,
      redis: client,
      auth,
      rooms,
      metrics: new AppMetrics({ defaultMetrics: false }),
      logger: createLogger('silent'),
      redisPrefix: redis.prefix,
    });
    const http = await listen(app);
    opened.push({ close: () => rooms.close() }, http);
    return { base: http.base, rooms };
  };

  /** Concert 1: every seat BLOCKED but the first, which a reservation of `token`'s user holds. */
  const holdOnlyTheFirstSeat = async (base: string, token: string) => {
    const userId = (await call(base, 'GET', '/me', { token })).body.user.id as number;
    const { rows } = await fixture.db.query<{ id: string }>(
      `INSERT INTO reservations (user_id, concert_id, hold_id, fence, amount_cents, expires_at)
       VALUES ($1, 1, 'h', 1, 0, now() + interval '1 minute') RETURNING id`,
      [userId],
    );
    const first = '(SELECT min(id) FROM seats WHERE concert_id = 1)';
    await fixture.db.query(
      `UPDATE seats SET status = CASE WHEN id = ${first} THEN 'HELD' ELSE 'BLOCKED' END,
         reservation_id = CASE WHEN id = ${first} THEN $1::uuid END
       WHERE concert_id = 1`,
      [rows[0]?.id],
    );
  };

  const login = async (base: string, name: string) => {
    const res = await call(base, 'POST', '/auth/demo-login', { body: { name } });
    expect(res.status).toBe(200);
    return res.body.token as string;
  };

  it('join, poll and leave; one place per user; 401, 404 and 400', async () => {
    // No ticker: nobody is admitted, so positions are stable.
    const { base } = await instance({}, { tick: false });
    const alice = await login(base, 'alice');
    const bob = await login(base, 'bob');

    const a = await call(base, 'POST', '/concerts/1/queue', { token: alice });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ state: 'waiting', position: 1, total: 1 });
    expect(a.body.etaMs).toBeGreaterThanOrEqual(0);
    const b = await call(base, 'POST', '/concerts/1/queue', { token: bob });
    expect(b.body).toMatchObject({ state: 'waiting', position: 2, total: 2 });
    // A second join (another tab) keeps the place.
    const again = await call(base, 'POST', '/concerts/1/queue', { token: alice });
    expect(again.body).toMatchObject({ position: 1, ticket: a.body.ticket });
    // Rooms are per concert.
    expect((await call(base, 'POST', '/concerts/2/queue', { token: bob })).body.position).toBe(1);

    const polled = await call(base, 'GET', '/concerts/1/queue', { token: bob });
    expect(polled.body).toMatchObject({ state: 'waiting', position: 2 });

    const left = await call(base, 'DELETE', '/concerts/1/queue', { token: alice });
    expect(left.status).toBe(200);
    expect(left.body).toEqual({ left: true, state: 'unknown' });
    expect((await call(base, 'GET', '/concerts/1/queue', { token: alice })).body).toEqual({
      state: 'unknown',
      soldOut: false,
    });
    expect((await call(base, 'GET', '/concerts/1/queue', { token: bob })).body.position).toBe(1);

    const anonymous = await call(base, 'POST', '/concerts/1/queue');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('token-missing');
    const forged = await call(base, 'GET', '/concerts/1/queue', { token: `${bob}x` });
    expect(forged.status).toBe(401);
    expect((await call(base, 'POST', '/concerts/999/queue', { token: bob })).body.code).toBe(
      'concert-not-found',
    );
    const bad = await call(base, 'DELETE', '/concerts/x/queue', { token: bob });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('params.id');
  });

  it('leaves through navigator.sendBeacon: POST ?_method=DELETE with an access_token form field', async () => {
    const { base } = await instance({}, { tick: false });
    const alice = await login(base, 'alice');
    await call(base, 'POST', '/concerts/1/queue', { token: alice });
    // What sendBeacon(url, new URLSearchParams({ access_token })) sends.
    const beacon = await fetch(`${base}/concerts/1/queue?_method=DELETE`, {
      method: 'POST',
      body: new URLSearchParams({ access_token: alice }),
    });
    expect(beacon.status).toBe(200);
    expect(await beacon.json()).toEqual({ left: true, state: 'unknown' });
    expect((await call(base, 'GET', '/concerts/1/queue', { token: alice })).body.state).toBe(
      'unknown',
    );
    const noToken = await fetch(`${base}/concerts/1/queue?_method=DELETE`, {
      method: 'POST',
      body: new URLSearchParams({}),
    });
    expect(noToken.status).toBe(401);
    // The form field is only read for the beacon: a plain join still needs the header.
    const join = await fetch(`${base}/concerts/1/queue`, {
      method: 'POST',
      body: new URLSearchParams({ access_token: alice }),
    });
    expect(join.status).toBe(401);
  });

  it('admits up to capacity; the queue_entry token is scoped to the concert; completing admits the next', async () => {
    const { base, rooms } = await instance({ maxActive: 1 });
    const alice = await login(base, 'alice');
    const bob = await login(base, 'bob');
    const aliceId = String((await call(base, 'GET', '/me', { token: alice })).body.user.id);
    await call(base, 'POST', '/concerts/1/queue', { token: alice });
    await call(base, 'POST', '/concerts/1/queue', { token: bob });

    const active = await waitFor(
      async () => (await call(base, 'GET', '/concerts/1/queue', { token: alice })).body,
      (s) => s.state === 'active',
    );
    expect(active.expiresAt).toBeGreaterThan(Date.now());
    const claims = await rooms.tokens.verify(active.token, {
      scope: 'queue_entry',
      audience: 'concert-1',
    });
    expect(claims.sub).toBe(aliceId);
    await expect(
      rooms.tokens.verify(active.token, { scope: 'queue_entry', audience: 'concert-2' }),
    ).rejects.toMatchObject({ status: 403 });
    // Capacity 1: bob keeps waiting at the head (polls are heartbeats, so he is not evicted).
    for (let i = 0; i < 3; i++) {
      const b = await call(base, 'GET', '/concerts/1/queue', { token: bob });
      expect(b.body).toMatchObject({ state: 'waiting', position: 1 });
      await new Promise((r) => setTimeout(r, 150));
    }
    await rooms.room(1).complete(aliceId);
    const bobActive = await waitFor(
      async () => (await call(base, 'GET', '/concerts/1/queue', { token: bob })).body,
      (s) => s.state === 'active',
    );
    expect(bobActive.token).not.toBe(active.token);
  });

  it('SSE: status at once, position updates, then "your turn" with the token', async () => {
    const { base, rooms } = await instance({ maxActive: 1 });
    const alice = await login(base, 'alice');
    const bob = await login(base, 'bob');
    const aliceId = String((await call(base, 'GET', '/me', { token: alice })).body.user.id);
    await call(base, 'POST', '/concerts/1/queue', { token: alice });
    await waitFor(
      async () => (await call(base, 'GET', '/concerts/1/queue', { token: alice })).body,
      (s) => s.state === 'active',
    );
    // Admitted already: a join again says so, with no stream token (there is nothing to wait for).
    const again = await call(base, 'POST', '/concerts/1/queue', { token: alice });
    expect(again.body.state).toBe('active');
    expect(again.body.stream).toBeUndefined();
    await call(base, 'POST', '/concerts/1/queue', { token: bob });

    // EventSource cannot send headers: a stream token goes in ?access_token=.
    const stream = await openSse(
      `${base}/concerts/1/queue/events?access_token=${await streamToken(base, bob, 1)}`,
    );
    opened.push(stream);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const first = await stream.next(() => true);
    expect(first).toMatchObject({ event: 'status', data: { state: 'waiting', position: 1 } });
    // Carol behind Bob: her stream sends a position once the number she would see goes down. She
    // opens it with the stream token that came with her join, as the page does.
    const carol = await login(base, 'carol');
    const carolJoined = await call(base, 'POST', '/concerts/1/queue', { token: carol });
    expect(carolJoined.body.stream).toMatchObject({ tokenType: 'Bearer', scope: 'queue_events' });
    expect(carolJoined.headers.get('cache-control')).toBe('no-store');
    const behind = await openSse(
      `${base}/concerts/1/queue/events?access_token=${carolJoined.body.stream.token}`,
    );
    opened.push(behind);
    expect(await behind.next(() => true)).toMatchObject({
      event: 'status',
      data: { state: 'waiting', position: 2 },
    });

    await rooms.room(1).complete(aliceId);
    const moved = await behind.next((e) => e.event === 'position');
    expect(moved.data).toMatchObject({ position: 1, active: 1 });
    const admitted = await stream.next((e) => e.event === 'admitted');
    expect(admitted.data.state).toBe('active');
    const claims = await rooms.tokens.verify(admitted.data.token, {
      scope: 'queue_entry',
      audience: 'concert-1',
    });
    expect(claims.sub).not.toBe(aliceId);

    const none = await fetch(`${base}/concerts/1/queue/events`);
    expect(none.status).toBe(401);
    const unknownConcert = await fetch(`${base}/concerts/999/queue/events`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(unknownConcert.status).toBe(404);
  });

  it('SSE: a waiter told to poll at the longest pace, beaten for by the stream at that pace plus half the timeout, is never evicted', async () => {
    let ticks = 0;
    // A 1 s tick behind a full booking area: the room asks the waiter for its longest pace (400 ms,
    // maxPollAfterMs) and evicts it 400 + 1,200 ms after a beat; the stream beats after 400 + 600.
    const { base, rooms } = await instance(
      { heartbeatTimeoutMs: 1_200, maxPollAfterMs: 400, tickMs: 1_000 },
      {
        onTick: (id) => {
          if (id === 1) ticks++;
        },
      },
    );
    const alice = await login(base, 'alice');
    await call(base, 'POST', '/concerts/1/queue', { token: alice });
    await waitFor(
      async () => (await call(base, 'GET', '/concerts/1/queue', { token: alice })).body.state,
      (state) => state === 'active',
      5_000,
    );
    const erin = await login(base, 'erin');
    const erinId = String((await call(base, 'GET', '/me', { token: erin })).body.user.id);
    await call(base, 'POST', '/concerts/1/queue', { token: erin });
    const stream = await openSse(`${base}/concerts/1/queue/events`, {
      authorization: `Bearer ${erin}`,
    });
    opened.push(stream);
    expect((await stream.next(() => true)).data).toMatchObject({
      state: 'waiting',
      position: 1,
      pollAfterMs: 400,
    });
    // Four timeouts' worth of ticks: a stream beating too seldom would be evicted by then.
    const from = ticks;
    await waitFor(
      async () => ticks - from,
      (n) => n >= 5,
      15_000,
    );
    expect(stream.events.map((e) => e.event)).not.toContain('evicted');
    expect((await rooms.room(1).status(erinId)).state).toBe('waiting');
  });

  it('SSE: a user who is not in the room gets one "unknown" status and the stream ends', async () => {
    const { base } = await instance({}, { tick: false });
    const carol = await login(base, 'carol');
    const stream = await openSse(`${base}/concerts/1/queue/events`, {
      authorization: `Bearer ${carol}`,
    });
    opened.push(stream);
    await stream.done;
    expect(stream.events).toEqual([
      { event: 'status', data: { state: 'unknown', soldOut: false } },
    ]);
  });

  it('sold out: join, poll and the stream say so (the stream then ends); a held seat is not sold', async () => {
    const { base } = await instance({ maxActive: 1 }, { tick: false });
    const dave = await login(base, 'dave');
    const joined = await call(base, 'POST', '/concerts/1/queue', { token: dave });
    expect(joined.body).toMatchObject({ state: 'waiting', soldOut: false });
    // Every seat but one gone for good, the last one only held: not sold out yet.
    await holdOnlyTheFirstSeat(base, dave);
    const held = await call(base, 'GET', '/concerts/1/queue', { token: dave });
    expect(held.body.soldOut).toBe(false);

    await fixture.db.query(
      `UPDATE seats SET status = 'BLOCKED', reservation_id = NULL WHERE concert_id = 1`,
    );
    // Each instance reads the sale state at most once a second (SaleStates), so the sell-out shows
    // within that bound, not at once.
    const polled = await waitFor(
      () => call(base, 'GET', '/concerts/1/queue', { token: dave }),
      (r) => r.status !== 200 || r.body.soldOut === true,
      5_000,
    );
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({ state: 'waiting', soldOut: true });
    const again = await call(base, 'POST', '/concerts/1/queue', { token: dave });
    expect(again.body).toMatchObject({ state: 'waiting', soldOut: true });
    expect(again.body.stream).toBeUndefined();
    // Nobody new is put in line once the concert is sold out.
    const late = await login(base, 'late');
    const lateJoin = await call(base, 'POST', '/concerts/1/queue', { token: late });
    expect(lateJoin.body).toMatchObject({ state: 'unknown', soldOut: true });
    expect((await call(base, 'GET', '/concerts/1/queue', { token: late })).body.state).toBe(
      'unknown',
    );
    const stream = await openSse(`${base}/concerts/1/queue/events`, {
      authorization: `Bearer ${dave}`,
    });
    opened.push(stream);
    await stream.done;
    expect(stream.events).toEqual([
      { event: 'status', data: expect.objectContaining({ state: 'waiting', soldOut: true }) },
      { event: 'soldout', data: {} },
    ]);
    // Another concert is unaffected.
    const other = await call(base, 'POST', '/concerts/2/queue', { token: dave });
    expect(other.body.soldOut).toBe(false);
  });

  it('the room pauses while every seat left is held, and admits again when a hold frees one', async () => {
    const { base, rooms } = await instance({ maxActive: 5 });
    const erin = await login(base, 'erin');
    await holdOnlyTheFirstSeat(base, erin);
    // Any request that reads the sale state (here a stream token) makes the instance pause the room.
    await call(base, 'POST', '/concerts/1/queue/stream-token', { token: erin });
    await waitFor(
      () => rooms.room(1).stats(),
      (s) => s.paused,
      5_000,
    );
    const joined = await call(base, 'POST', '/concerts/1/queue', { token: erin });
    expect(joined.body).toMatchObject({ state: 'waiting', soldOut: false });
    const ticksAtJoin = (await rooms.room(1).stats()).ticks;
    const paused = await waitFor(
      () => rooms.room(1).stats(),
      (s) => s.ticks >= ticksAtJoin + 5,
    );
    expect(paused).toMatchObject({ paused: true, active: 0, waiting: 1 });
    expect((await call(base, 'GET', '/concerts/1/queue', { token: erin })).body.state).toBe(
      'waiting',
    );

    // The hold expires: the seat is AVAILABLE again and her next polls see the room reopen.
    await fixture.db.query(
      `UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL WHERE status = 'HELD' AND concert_id = 1`,
    );
    const admitted = await waitFor(
      async () => (await call(base, 'GET', '/concerts/1/queue', { token: erin })).body,
      (b) => b.state === 'active',
    );
    expect(admitted.token).toEqual(expect.any(String));
    expect((await rooms.room(1).stats()).paused).toBe(false);
  });

  it('SSE: an admission that arrives while the stream opens waits for the headers and the first status', async () => {
    // The race behind the browser test's flake: a tick admits the user just after a process's
    // first subscription to the room, and on a starved machine the admission is read with the
    // SUBSCRIBE reply, before the stream has written its headers. Here the real admission
    // message is replayed without pause while streams open on fresh instances (each subscribes
    // anew), which puts it in that window nearly every time.
    const { base, rooms } = await instance({}, { tick: false });
    const alice = await login(base, 'alice');
    const aliceId = String((await call(base, 'GET', '/me', { token: alice })).body.user.id);
    await call(base, 'POST', '/concerts/1/queue', { token: alice });
    const room = rooms.room(1);
    const listener = redis.connect();
    await listener.subscribe(room.channel);
    const published = new Promise<string>((resolve) => {
      listener.once('message', (_channel: string, message: string) => resolve(message));
    });
    expect((await room.tick()).admitted.map((a) => a.userId)).toEqual([aliceId]);
    const admission = await published;

    const publisher = redis.connect();
    let replaying = true;
    const replay = (async () => {
      while (replaying) await publisher.publish(room.channel, admission);
    })();
    try {
      for (let i = 0; i < 5; i++) {
        const fresh = await instance({}, { tick: false });
        const stream = await openSse(
          `${fresh.base}/concerts/1/queue/events?access_token=${await streamToken(fresh.base, alice, 1)}`,
        );
        opened.push(stream);
        // An event written before the headers makes Node send default ones (no content type),
        // and EventSource refuses such a stream without retrying: the page waits forever.
        expect(stream.status).toBe(200);
        expect(stream.contentType ?? '(no content type)').toMatch(/^text\/event-stream/);
        const first = await stream.next(() => true, 5000);
        expect(first).toMatchObject({ event: 'status', data: { state: 'active' } });
        await stream.close();
      }
    } finally {
      replaying = false;
      await replay;
    }
  });

  it('two instances tick as one: each round runs on one instance, capacity is never exceeded', async () => {
    const ticks: { instance: number; tick: number; active: number }[] = [];
    const settings = { maxActive: 3, admitPerTick: 1, tickMs: 50 };
    const one = await instance(settings, {
      onTick: (_id, r) => ticks.push({ instance: 1, tick: r.tick, active: r.active }),
    });
    const two = await instance(settings, {
      onTick: (_id, r) => ticks.push({ instance: 2, tick: r.tick, active: r.active }),
    });
    const tokens = await Promise.all(
      Array.from({ length: 8 }, (_, i) => login(i % 2 ? one.base : two.base, `user${i}`)),
    );
    // Users join one after another (so FIFO order is known) through either instance: their
    // tokens are accepted by both.
    for (const [i, t] of tokens.entries()) {
      await call(i % 2 ? two.base : one.base, 'POST', '/concerts/3/queue', { token: t });
    }
    const statuses = await waitFor(
      () =>
        Promise.all(
          tokens.map(
            async (t, i) =>
              (await call(i % 2 ? one.base : two.base, 'GET', '/concerts/3/queue', { token: t }))
                .body,
          ),
        ),
      (all) => all.filter((s) => s.state === 'active').length === 3 && ticks.length > 10,
    );
    expect(statuses.filter((s) => s.state === 'waiting')).toHaveLength(5);
    // FIFO: the first three to join are the ones admitted.
    expect(statuses.slice(0, 3).map((s) => s.state)).toEqual(['active', 'active', 'active']);
    const numbers = ticks.map((t) => t.tick);
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(Math.max(...ticks.map((t) => t.active))).toBeLessThanOrEqual(3);
  });
});
