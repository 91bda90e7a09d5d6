import { inject } from 'vitest';
import { POSTGRES_URL, randomSchema } from '../helpers.js';
import { start } from '../server-process.js';

/**
 * Start the built server for a Chromium test: a schema of its own on the test PostgreSQL, the
 * run's standalone Redis under `redisPrefix`, a fixed JWT secret and 100 ms ticks; `env` adds to
 * or overrides that. Returns the server and its schema (the test drops it when done).
 */
export async function startPageServer(redisPrefix: string, env: Record<string, string> = {}) {
  const schema = randomSchema();
  const { standaloneUrl } = inject('boxofficeRedis') as { standaloneUrl: string };
  const server = await start({
    DATABASE_URL: POSTGRES_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL: standaloneUrl,
    REDIS_PREFIX: redisPrefix,
    JWT_SECRET: 'browser-test-secret-browser-test-secret',
    QUEUE_TICK_MS: '100',
    ...env,
  });
  return { ...server, schema };
}
