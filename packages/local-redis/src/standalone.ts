import { dockerUnavailableReason, startDockerRedis } from './docker.js';
import { RedisUnavailableError } from './errors.js';
import { freePort } from './free-port.js';
import { answersPing } from './probe.js';
import { hasBinary, spawnRedis } from './redis-process.js';

/** Where a standalone Redis came from, in the order they are tried. */
export type RedisSource = 'env' | 'default-port' | 'spawned' | 'docker';

/** A standalone Redis server to connect to. */
export interface StandaloneRedis {
  /** `redis://host:port[/db]`, ready for `new Redis(url)`. */
  readonly url: string;
  readonly source: RedisSource;
  /** Stops what `getRedis()` started; a no-op for a server it found running. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@link getRedis}; the defaults are what tests, benchmarks and the demo use. */
export interface GetRedisOptions {
  /** Checked first. @defaultValue process.env.REDIS_URL */
  url?: string | undefined;
  /** The server to look for when `url` is unset. @defaultValue 'redis://127.0.0.1:6379' */
  defaultUrl?: string;
  /** Binary spawned when nothing answers. @defaultValue 'redis-server' */
  redisServerBin?: string;
  /** Whether to fall back to a testcontainers `redis:7`. @defaultValue true */
  docker?: boolean;
}

const noop = async () => {};

/** `url` without user and password, for messages (a REDIS_URL may carry `:password@`). */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable)';
  }
}

/**
 * A real standalone Redis: `REDIS_URL` if set; else a server answering on 127.0.0.1:6379; else a
 * `redis-server` from PATH spawned on a free port (temp dir, no persistence, stopped on exit); else a
 * `redis:7` container when a Docker engine answers. Throws {@link RedisUnavailableError}, which says
 * how to get Redis, when none of these works.
 */
export async function getRedis(options: GetRedisOptions = {}): Promise<StandaloneRedis> {
  const url = 'url' in options ? options.url : process.env.REDIS_URL;
  if (url) {
    // An explicit choice is never silently replaced by another server.
    if (await answersPing(url, 3_000)) return { url, source: 'env', stop: noop };
    throw new RedisUnavailableError([`REDIS_URL=${withoutCredentials(url)}: no answer to PING`]);
  }

  const attempts: string[] = [];
  const defaultUrl = options.defaultUrl ?? 'redis://127.0.0.1:6379';
  if (await answersPing(defaultUrl)) return { url: defaultUrl, source: 'default-port', stop: noop };
  attempts.push(`${defaultUrl}: no answer to PING`);

  const bin = options.redisServerBin ?? 'redis-server';
  if (hasBinary(bin)) {
    try {
      const server = await spawnRedis({ bin, port: await freePort() });
      return { url: server.url, source: 'spawned', stop: () => server.stop() };
    } catch (error) {
      attempts.push(`spawning ${bin}: ${(error as Error).message.split('\n')[0]}`);
    }
  } else {
    attempts.push(`${bin}: not found on PATH`);
  }

  if (options.docker ?? true) {
    const reason = dockerUnavailableReason();
    if (reason) {
      attempts.push(`Docker: ${reason}`);
    } else {
      try {
        const container = await startDockerRedis();
        return { url: container.url, source: 'docker', stop: () => container.stop() };
      } catch (error) {
        attempts.push(
          `Docker (testcontainers redis:7): ${(error as Error).message.split('\n')[0]}`,
        );
      }
    }
  } else {
    attempts.push('Docker: disabled by options');
  }
  throw new RedisUnavailableError(attempts);
}
