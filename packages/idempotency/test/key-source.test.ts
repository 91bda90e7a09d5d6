import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import {
  checkIdempotencyKey,
  HEADERS,
  IdempotencyKeyInvalidError,
  IdempotencyStore,
  idempotency,
  MAX_KEY_LENGTH,
} from '../src/index.js';
import { type Ctx, httpAdapters } from './http-adapters.js';

const uuid = () => crypto.randomUUID();

describe('idempotency() header and key options', () => {
  const store = new IdempotencyStore({ defineCommand() {}, duplicate() {} } as never);

  it('accepts any HTTP header name and refuses anything else with a TypeError', () => {
    for (const header of [
      'X-Idempotency-Key',
      'paypal-request-id',
      'Idempotency-Key',
      "a!#$%&'*+.^_`|~9",
    ]) {
      expect(typeof idempotency({ store, header })).toBe('function');
    }
    for (const header of [
      '',
      'two words',
      'x:y',
      'Idempotency-Key\n',
      'ключ',
      'x'.repeat(257),
      42,
      null,
    ]) {
      expect(() => idempotency({ store, header: header as never }), String(header)).toThrow(
        /header must be an HTTP header name/,
      );
    }
  });

  it('refuses a key that is not a function, and header and key together', () => {
    expect(() => idempotency({ store, key: 'body.key' as never })).toThrow(
      /key must be a function/,
    );
    expect(() => idempotency({ store, header: 'X-Key', key: () => 'k' })).toThrow(TypeError);
    expect(() => idempotency({ store, header: 'X-Key', key: () => 'k' })).toThrow(/not both/);
  });
});

describe('checkIdempotencyKey', () => {
  it('takes 1–255 printable ASCII characters as they are, with no sf-string syntax', () => {
    expect(checkIdempotencyKey('abc')).toBe('abc');
    expect(checkIdempotencyKey('"quoted" \\ spaced')).toBe('"quoted" \\ spaced');
    expect(checkIdempotencyKey('x'.repeat(MAX_KEY_LENGTH))).toHaveLength(MAX_KEY_LENGTH);
  });

  it.each([
    [undefined, 'missing'],
    [null, 'missing'],
    ['', 'malformed'],
    [42, 'malformed'],
    [{ key: 'k' }, 'malformed'],
    ['tab\there', 'malformed'],
    ['ünïcödé', 'malformed'],
    ['x'.repeat(MAX_KEY_LENGTH + 1), 'too_long'],
  ])('refuses %j (%s)', (value, reason) => {
    let error: unknown;
    try {
      checkIdempotencyKey(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IdempotencyKeyInvalidError);
    expect((error as IdempotencyKeyInvalidError).reason).toBe(reason);
  });
});

describe.each(httpAdapters)('$name', (adapter) => {
  describe.each(redisTargets())('where the key comes from, on $name', (target) => {
    const redis = useRedis(target);
    const newStore = () => new IdempotencyStore(redis.client, { prefix: redis.prefix });

    function send(url: string, headers: Record<string, string>, body: unknown = { amount: 1 }) {
      return fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    }

    it.each([
      ['X-Idempotency-Key', 'x-idempotency-key'],
      ['PayPal-Request-Id', 'PAYPAL-REQUEST-ID'],
      ['paypal-request-id', 'PayPal-Request-Id'],
    ])('reads the key from the %s header (sent as %s)', async (header, sentAs) => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: { store: newStore(), header },
          handler: (ctx) => {
            calls++;
            ctx.status(201).json({ call: calls });
          },
        },
      ]);
      const key = uuid();
      const first = await send(`${url}/pay`, { [sentAs]: `"${key}"` });
      expect(first.status).toBe(201);
      const replay = await send(`${url}/pay`, { [sentAs]: key });
      expect(replay.headers.get(HEADERS.replayed)).toBe('true');
      expect(await replay.json()).toEqual({ call: 1 });
      // The standard header means nothing to this route.
      const standard = await send(`${url}/pay`, { 'idempotency-key': `"${key}"` });
      expect(standard.status).toBe(400);
      const problem = (await standard.json()) as { code: string; title: string; detail: string };
      expect(problem.code).toBe('IDEMPOTENCY_KEY_INVALID');
      expect(problem.title).toBe(`${header} missing`);
      expect(problem.detail).toContain(header);
      const malformed = await send(`${url}/pay`, { [sentAs]: '"unterminated' });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await malformed.json()).toMatchObject({ title: `${header} malformed` });
      expect(calls).toBe(1);
    });

    it('reads the key from a body field: taken as it is, checked like a header key', async () => {
      let calls = 0;
      const { url } = await adapter.serve([
        {
          path: '/pay',
          guard: {
            store: newStore(),
            key: (req: { body: { requestId?: unknown } }) => req.body.requestId,
          },
          handler: (ctx) => {
            calls++;
            ctx.status(201).json({ call: calls, amount: ctx.body.amount });
          },
        },
      ]);
      const key = `"${uuid()}"`; // quotes are part of a plain key
      const first = await send(`${url}/pay`, {}, { requestId: key, amount: 5 });
      expect(first.status).toBe(201);
      const replay = await send(`${url}/pay`, {}, { amount: 5, requestId: key });
      expect(replay.headers.get(HEADERS.replayed)).toBe('true');
      expect(await replay.json()).toEqual({ call: 1, amount: 5 });
      // The same key with another amount is another payload.
      const reused = await send(`${url}/pay`, {}, { requestId: key, amount: 6 });
      expect(reused.status).toBe(422);
      // A header key is not looked at.
      const bad: Array<[unknown, string]> = [
        [undefined, 'missing'],
        [null, 'missing'],
        ['', 'malformed'],
        [7, 'malformed'],
        ['tab\t', 'malformed'],
        ['x'.repeat(MAX_KEY_LENGTH + 1), 'too_long'],
      ];
      for (const [requestId, reason] of bad) {
        const res = await send(
          `${url}/pay`,
          { 'idempotency-key': `"${uuid()}"` },
          { requestId, amount: 5 },
        );
        expect(res.status, String(requestId)).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await res.json()).toMatchObject({
          code: 'IDEMPOTENCY_KEY_INVALID',
          title: `Idempotency key ${reason === 'missing' ? 'missing' : 'malformed'}`,
        });
      }
      expect(calls).toBe(1);
    });

    it('lets requests without a key through when not required; a key function that throws goes to the app', async () => {
      let calls = 0;
      const handler = (ctx: Ctx) => {
        calls++;
        ctx.json({ call: calls });
      };
      const { url } = await adapter.serve(
        [
          {
            path: '/open',
            guard: {
              store: newStore(),
              required: false,
              key: (req: { body: { requestId?: unknown } }) => req.body.requestId,
            },
            handler,
          },
          {
            path: '/buggy',
            guard: {
              store: newStore(),
              key: () => {
                throw new Error('no body');
              },
            },
            handler,
          },
        ],
        { teapot: true },
      );
      expect(await (await send(`${url}/open`, {}, {})).json()).toEqual({ call: 1 });
      expect(await (await send(`${url}/open`, {}, {})).json()).toEqual({ call: 2 });
      const buggy = await send(`${url}/buggy`, {}, { requestId: 'k' });
      expect(buggy.status).toBe(418);
      expect(await buggy.json()).toEqual({ appError: 'no body' });
      expect(calls).toBe(2);
    });
  });
});
