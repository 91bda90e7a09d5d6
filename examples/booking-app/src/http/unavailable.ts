import { RedisUnavailableError } from '../errors.js';

const REDIS_DOWN = [
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /max retries per request/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH/,
  /Failed to refresh slots cache/i,
  /None of startup nodes is available/i,
  /CLUSTERDOWN/,
  /LOADING/,
];

/**
 * The {@link RedisUnavailableError} for an ioredis error that means "Redis cannot be reached"
 * (as opposed to a bad command or a script error), else null.
 */
export function redisUnavailable(error: unknown): RedisUnavailableError | null {
  if (error instanceof RedisUnavailableError) return error;
  if (!(error instanceof Error)) return null;
  const e = error as Error & { code?: string };
  const text = `${e.name} ${e.code ?? ''} ${e.message}`;
  if (e.name === 'MaxRetriesPerRequestError' || REDIS_DOWN.some((re) => re.test(text))) {
    return new RedisUnavailableError(`Redis: ${e.message}`, { cause: error });
  }
  return null;
}
