import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort, getRedis, RedisUnavailableError, waitFor } from '../src/index.js';
import { refusesConnections } from './process-helpers.js';

describe('getRedis', () => {
  it('uses REDIS_URL when it answers, and reports the source', async () => {
    const found = await getRedis();
    const server = await getRedis({ url: found.url });
    expect(server.source).toBe('env');
    const client = new Redis(server.url);
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('never falls back when REDIS_URL is set but dead', async () => {
    const port = await freePort();
    const error = await getRedis({ url: `redis://127.0.0.1:${port}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as RedisUnavailableError).code).toBe('ERR_REDIS_UNAVAILABLE');
    expect((error as Error).message).toContain(`REDIS_URL=redis://127.0.0.1:${port}`);
  });

  it('never shows the user or password of REDIS_URL in its message', async () => {
    const port = await freePort();
    const error = await getRedis({ url: `redis://admin:s3cret@127.0.0.1:${port}` }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain(`REDIS_URL=redis://127.0.0.1:${port}`);
    expect((error as Error).message).not.toMatch(/admin|s3cret/);
  });

  it('spawns redis-server on a free port when nothing answers, and stop() kills it', async () => {
    const deadPort = await freePort();
    const server = await getRedis({ url: undefined, defaultUrl: `redis://127.0.0.1:${deadPort}` });
    expect(server.source).toBe('spawned');
    expect(server.url).not.toContain(String(deadPort));
    const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    expect(await client.ping()).toBe('PONG');
    // Persistence is off: no snapshot rules and no AOF.
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    client.disconnect();

    await server.stop();
    const port = Number(new URL(server.url).port);
    expect(await refusesConnections(port)).toBe(true);
  });

  it('throws an error that says how to get Redis when nothing works', async () => {
    const deadPort = await freePort();
    const error = await getRedis({
      url: undefined,
      defaultUrl: `redis://127.0.0.1:${deadPort}`,
      redisServerBin: 'redis-server-that-does-not-exist',
      docker: false,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisUnavailableError);
    const { message, attempts } = error as RedisUnavailableError;
    expect(attempts).toHaveLength(3);
    expect(message).toContain('redis-server-that-does-not-exist: not found on PATH');
    expect(message).toContain('REDIS_URL=redis://host:port');
    expect(message).toContain('apt-get install redis-server');
  });

  it('kills spawned servers when the owning process exits', async () => {
    const { execFileSync } = await import('node:child_process');
    const deadPort = await freePort();
    const script = `
      import { getRedis } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const s = await getRedis({ url: undefined, defaultUrl: 'redis://127.0.0.1:${deadPort}' });
      process.stdout.write(s.url);
      process.exit(0);`;
    const url = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    const port = Number(new URL(url).port);
    expect(port).toBeGreaterThan(0);
    // SIGKILL was sent synchronously in the 'exit' hook; the kernel may need a moment to reap it.
    expect(await waitFor(() => refusesConnections(port), 3_000)).toBe(true);
  });
});
