import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * CPU seconds (user + system) a process and its live children (HTTP_WORKERS) have used so far, from
 * /proc (Linux).
 */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const own = (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, clock ticks (USER_HZ 100)
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return (
    own + (children ? children.split(' ').reduce((sum, c) => sum + cpuSeconds(Number(c)), 0) : 0)
  );
}

/** Sum of `calls=` over INFO commandstats. */
export async function redisCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}
