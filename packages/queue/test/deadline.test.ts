import {
  timed as elapsed,
  timedFailure as failure,
  reconnectingClient,
} from '@boxoffice/local-redis/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  expectTimeouts,
  expectUnavailable,
  SLACK,
  TIMEOUT,
  useReconnectingClient,
  useSilentRedis,
} from '../../internal/test/package-tests.js';
import { QueueRedisError, WaitingRoom } from '../src/index.js';
import { hsTokens } from './helpers.js';

// Every Redis call of a room is bounded by commandTimeoutMs (the shared CallGuard of
// packages/internal), and stop()/close() finish whatever Redis does. The bounds asserted are
// correctness bounds (nothing hangs), with slack for a loaded machine.
const tokens = hsTokens();

describe('a Redis that never answers', () => {
  const silent = useSilentRedis();
  let room: WaitingRoom;
  beforeEach(() => {
    room = new WaitingRoom(silent.current.client(), {
      roomId: 'r',
      tokens,
      maxActive: 1,
      tickMs: 50,
      commandTimeoutMs: TIMEOUT,
    });
  });

  it('every call fails within commandTimeoutMs, kind timeout', async () => {
    await expectTimeouts(
      [
        ['visit', () => room.join('alice')],
        ['visit', () => room.status('alice')],
        ['leave', () => room.leave('alice')],
        ['complete', () => room.complete('alice')],
        ['tick', () => room.tick()],
        ['stats', () => room.stats()],
        ['configure', () => room.configure({ maxActive: 2 })],
        ['pause', () => room.pause()],
        ['isTokenActive', () => room.isTokenActive({ sub: 'alice', aud: 'r', jti: 'j' })],
      ],
      QueueRedisError,
    );
  });

  it('stop() and close() finish; close() reports the timeout', async () => {
    room.start();
    expect(await elapsed(() => room.stop())).toBeLessThan(2 * TIMEOUT + SLACK);
    room.start();
    const { error, ms } = await failure(() => room.close());
    expect(error).toMatchObject({ kind: 'timeout', operation: 'close' });
    expect(ms).toBeLessThan(3 * TIMEOUT + SLACK);
  });

  it('events: ready fails within commandTimeoutMs, close() finishes', async () => {
    const events = room.events();
    const { error, ms } = await failure(() => events.ready);
    expect(error).toBeInstanceOf(QueueRedisError);
    expect(error).toMatchObject({ kind: 'timeout', operation: 'subscribe' });
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
    const own = room.events({ commandTimeoutMs: 100 });
    expect(await elapsed(() => own.close())).toBeLessThan(100 + SLACK);
    expect(() => room.events({ commandTimeoutMs: 0 })).toThrow(RangeError);
  });
});

describe('a client that is reconnecting (ioredis defaults)', () => {
  const client = useReconnectingClient();

  it('calls fail at once, kind unavailable; stop() and close() finish at once', async () => {
    const room = new WaitingRoom(client.current, { roomId: 'r', tokens, maxActive: 1, tickMs: 50 });
    expect(room.options.commandTimeoutMs).toBe(2_000);
    await expectUnavailable([
      ['visit', () => room.join('alice')],
      ['tick', () => room.tick()],
    ]);
    room.start();
    expect(await elapsed(() => room.stop())).toBeLessThan(SLACK);
    const { error, ms } = await failure(() => room.close());
    expect(error).toMatchObject({ kind: 'unavailable', operation: 'close' });
    expect(ms).toBeLessThan(SLACK);
    const events = room.events();
    expect(await elapsed(() => events.close())).toBeLessThan(SLACK);
  });
});

describe('commandTimeoutMs option', () => {
  it('is validated like the other options', async () => {
    const client = await reconnectingClient();
    try {
      const make = (commandTimeoutMs: unknown) =>
        new WaitingRoom(client, {
          roomId: 'r',
          tokens,
          maxActive: 1,
          commandTimeoutMs: commandTimeoutMs as number,
        });
      expect(() => make(0)).toThrow(RangeError);
      expect(() => make(600_001)).toThrow(RangeError);
      expect(() => make('5')).toThrow(TypeError);
      expect(() => make(1.5)).toThrow(/commandTimeoutMs/);
      expect(make(1).options.commandTimeoutMs).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
