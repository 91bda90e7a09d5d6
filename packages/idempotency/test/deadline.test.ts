import {
  timedFailure as failure,
  reconnectingClient,
  silentRedis,
} from '@boxoffice/local-redis/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { IdempotencyStore, IdempotencyStoreUnavailableError } from '../src/index.js';

// Every call is bounded by commandTimeoutMs (the shared CallGuard of packages/internal). The bounds
// asserted are correctness bounds (the call must not hang), with slack for a loaded machine.
const TIMEOUT = 300;
const SLACK = 1500;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('commandTimeoutMs', () => {
  it('a Redis that never answers: kind timeout, within commandTimeoutMs', async () => {
    const silent = await silentRedis();
    closers.push(() => silent.close());
    const store = new IdempotencyStore(silent.client(), { commandTimeoutMs: TIMEOUT });
    for (const [operation, call] of [
      ['claim', () => store.claim('k')],
      ['get', () => store.get('k')],
    ] as const) {
      const { error, ms } = await failure(call);
      expect(error, operation).toBeInstanceOf(IdempotencyStoreUnavailableError);
      expect(error, operation).toMatchObject({ kind: 'timeout', operation });
      expect(ms, operation).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(ms, operation).toBeLessThan(TIMEOUT + SLACK);
    }
  });

  it('a client that is reconnecting (ioredis defaults): kind unavailable, at once', async () => {
    const client = await reconnectingClient();
    closers.push(() => client.disconnect());
    const store = new IdempotencyStore(client, { commandTimeoutMs: 60_000 });
    const { error, ms } = await failure(() => store.claim('k'));
    expect(error).toBeInstanceOf(IdempotencyStoreUnavailableError);
    expect(error).toMatchObject({ kind: 'unavailable', operation: 'claim' });
    expect(ms).toBeLessThan(SLACK);
  });

  it('is validated, and the deprecated timeoutMs still works', async () => {
    const silent = await silentRedis();
    closers.push(() => silent.close());
    const client = silent.client();
    expect(new IdempotencyStore(client).options.commandTimeoutMs).toBe(2_000);
    expect(() => new IdempotencyStore(client, { commandTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new IdempotencyStore(client, { commandTimeoutMs: 1.5 })).toThrow(TypeError);
    expect(
      () => new IdempotencyStore(client, { commandTimeoutMs: '5' as unknown as number }),
    ).toThrow(TypeError);
    expect(() => new IdempotencyStore(client, { timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => new IdempotencyStore(client, { timeoutMs: 300, commandTimeoutMs: 300 })).toThrow(
      TypeError,
    );
    const old = new IdempotencyStore(client, { timeoutMs: TIMEOUT });
    expect(old.options).toMatchObject({ commandTimeoutMs: TIMEOUT, timeoutMs: TIMEOUT });
    const { error, ms } = await failure(() => old.get('k'));
    expect(error).toMatchObject({ kind: 'timeout' });
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
  });
});
