import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers.js';
import {
  badId,
  badJsonText,
  badQuery,
  brokenEscape,
  expectProblem4xx,
  hostileJson,
  report,
  snapshot,
  tally,
  useFuzzApp,
} from './kit.js';

// Fuzzing the endpoints anyone can call (and the id/query parts of the signed-in GETs): malformed
// ids, query strings, JSON bodies, content types and encodings get a 4xx problem+json, never a
// 5xx, and change nothing.

// Generous: the properties send hundreds of requests on a shared 2-core machine.
describe('HTTP fuzz: public endpoints', { timeout: 120_000 }, () => {
  const ctx = useFuzzApp();
  const { fixture, redis } = ctx;

  it('ids, query strings and login bodies: 2xx for valid ones, else a 4xx problem, and no state change', async () => {
    const { app } = ctx;
    const { token } = await app.login('fuzzer');
    const before = await snapshot(fixture.db, redis);
    const statuses = new Map<number, number>();
    let tried = 0;
    // [method, path for an id, needs the user token]; none of these changes state for any id.
    const routes: [string, (id: string) => string, boolean][] = [
      ['GET', (id) => `/concerts/${id}`, false],
      ['GET', (id) => `/concerts/${id}/seats/layout`, false],
      ['GET', (id) => `/concerts/${id}/seats/status`, false],
      ['GET', (id) => `/products/${id}`, false],
      ['GET', (id) => `/orders/${id}`, true],
      ['GET', (id) => `/payments/${id}`, true],
      ['GET', (id) => `/reservations/${id}`, true],
      ['GET', (id) => `/concerts/${id}/queue`, true], // a poll never joins
      ['POST', (id) => `/concerts/${id}/reservations`, true], // a user token is not a queue token
    ];
    const queries: [string, string[]][] = [
      ['/products/popular', ['days', 'limit', 'by']],
      ['/products/popular/exact', ['days', 'limit']],
      ['/stats', ['hours']],
      ['/concerts', ['x']],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.constantFrom(...routes), badId).map(([[method, path, auth], id]) => ({
            method,
            path: path(id),
            auth,
          })),
          fc
            .constantFrom(...queries)
            .chain(([path, names]) =>
              badQuery(names).map((q) => ({ method: 'GET', path: `${path}?${q}`, auth: false })),
            ),
        ),
        async ({ method, path, auth }) => {
          tried++;
          const res = await call(app.base, method, path, auth ? { token } : {});
          tally(statuses, res.status);
          if (res.status >= 400 || res.status < 200) expectProblem4xx(res, `${method} ${path}`);
        },
      ),
      { numRuns: 200 },
    );
    // GET /products/:id records a view in the trending sketch: only its keys may have changed.
    const after = (await snapshot(fixture.db, redis)) as { db: unknown; keys: string[] };
    const { db, keys } = before as { db: unknown; keys: string[] };
    expect(after.db).toEqual(db);
    expect(after.keys.filter((k) => !k.includes(':trend:'))).toEqual(
      keys.filter((k) => !k.includes(':trend:')),
    );
    report('ids and query strings', tried, statuses);

    // POST /auth/demo-login: bad JSON, wrong types, huge and odd names, odd content types.
    statuses.clear();
    tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({
            kind: fc.constant('json' as const),
            body: fc.oneof(
              hostileJson,
              hostileJson.map((name) => ({ name })),
            ),
          }),
          fc.record({ kind: fc.constant('raw' as const), text: badJsonText }),
          fc.record({
            kind: fc.constant('typed' as const),
            type: fc.constantFrom(
              'text/plain',
              'application/json; charset=utf-16',
              'application/json; charset=latin-9',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/json; charset="',
            ),
            encoding: fc.constantFrom(undefined, 'x-unknown', 'identity'),
          }),
        ),
        async (input) => {
          tried++;
          const before = await snapshot(fixture.db, redis);
          const res =
            input.kind === 'json'
              ? await call(app.base, 'POST', '/auth/demo-login', { body: input.body })
              : input.kind === 'raw'
                ? await call(app.base, 'POST', '/auth/demo-login', { rawBody: input.text })
                : await call(app.base, 'POST', '/auth/demo-login', {
                    rawBody: '{"name":"x"}',
                    headers: {
                      'content-type': input.type,
                      ...(input.encoding ? { 'content-encoding': input.encoding } : {}),
                    },
                  });
          tally(statuses, res.status);
          if (res.status === 200) return; // a valid name: a (new or existing) user, as designed
          expectProblem4xx(res, `demo-login ${JSON.stringify(input).slice(0, 200)}`);
          expect(await snapshot(fixture.db, redis)).toEqual(before);
        },
      ),
      { numRuns: 150, examples: [[{ kind: 'json', body: { name: 'a\ud800' } }]] },
    );
    report('demo-login bodies', tried, statuses);

    const oversized = await call(app.base, 'POST', '/auth/demo-login', {
      rawBody: JSON.stringify({ name: 'x'.repeat(200_000) }),
    });
    expectProblem4xx(oversized, 'oversized body');
    expect(oversized.status).toBe(413);
  });

  it("Express's own client errors (a path escape that does not decode, a body that does not decompress) are 4xx problems", async () => {
    const { app } = ctx;
    const statuses = new Map<number, number>();
    const wrong: string[] = [];
    const paths = ['/concerts/', '/products/', '/products/popular?days=', '/stats?hours=', '/x/'];
    for (const esc of brokenEscape) {
      for (const path of paths) {
        const res = await call(app.base, 'GET', `${path}${esc}`);
        tally(statuses, res.status);
        const problem = /^application\/problem\+json/.test(res.headers.get('content-type') ?? '');
        if (res.status < 400 || res.status >= 500 || !problem)
          wrong.push(`${path}${esc} -> ${res.status}`);
      }
    }
    report('broken percent-escapes', brokenEscape.length * paths.length, statuses);

    // A body that does not decompress.
    statuses.clear();
    for (const encoding of ['gzip', 'deflate', 'br', 'x-unknown']) {
      const res = await call(app.base, 'POST', '/auth/demo-login', {
        rawBody: '{"name":"x"}',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
      tally(statuses, res.status);
      const problem = /^application\/problem\+json/.test(res.headers.get('content-type') ?? '');
      if (res.status < 400 || res.status >= 500 || !problem)
        wrong.push(`${encoding} -> ${res.status}`);
    }
    report('undecodable content encodings', 4, statuses);
    expect(wrong).toEqual([]);
  });
});
