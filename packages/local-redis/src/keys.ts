import { masters, type RedisClient } from '@boxoffice/internal';
import type { Redis } from 'ioredis';

export type { RedisClient };

async function scanNode(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Every key matching `pattern` (SCAN, never KEYS), across all masters of a Cluster. */
export async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  const perNode = await Promise.all(masters(client).map((node) => scanNode(node, pattern)));
  return perNode.flat();
}

/** Delete every key starting with `prefix`; returns how many were deleted. */
export async function deleteByPrefix(client: RedisClient, prefix: string): Promise<number> {
  if (!/^[\w:.-]+$/.test(prefix)) {
    // Refuse glob characters: a prefix like '*' would wipe keys that are not ours.
    throw new TypeError(`prefix must be [A-Za-z0-9_:.-]+, got ${JSON.stringify(prefix)}`);
  }
  const counts = await Promise.all(
    masters(client).map(async (node) => {
      const keys = await scanNode(node, `${prefix}*`);
      // Delete on the node that holds them, one key per command (keys of different slots cannot
      // share a command on a Cluster node).
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      if (keys.length > 0) await pipeline.exec();
      return keys.length;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
