import { Redis } from 'ioredis';

/** True when a Redis server at `url` answers PING within `timeoutMs`; never throws, never retries. */
export async function answersPing(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // reported through the return value
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Run one command on a fresh connection to `node` and close it; `undefined` when the node cannot be
 * reached or answers with an error (for polling a server's state while it starts or fails over).
 */
export async function commandOnce<T>(
  node: { host: string; port: number },
  command: string,
  ...args: string[]
): Promise<T | undefined> {
  const client = new Redis({
    ...node,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // reported through the return value
  try {
    await client.connect();
    return (await client.call(command, ...args)) as T;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/** Poll `check` every `intervalMs` until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return check();
}
