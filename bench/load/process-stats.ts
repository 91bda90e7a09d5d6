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

/** `calls=` per command name from INFO commandstats (`cmdstat_evalsha` → `evalsha`). */
export async function redisCallsByCommand(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  return new Map(
    [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1] as string, Number(m[2])]),
  );
}

/** Sum of the calls of a {@link redisCallsByCommand} reading. */
export const totalCalls = (calls: Map<string, number>): number =>
  [...calls.values()].reduce((sum, n) => sum + n, 0);

/**
 * The `top` commands called between two {@link redisCallsByCommand} readings, per `per` (e.g.
 * requests), as `name n.n` joined by commas: where a step's Redis commands go.
 */
export function topCommands(
  before: Map<string, number>,
  after: Map<string, number>,
  per: number,
  top = 5,
): string {
  return [...after]
    .map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const)
    .filter(([name, n]) => n > 0 && name !== 'info')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, n]) => `${name} ${(n / per).toFixed(1)}`)
    .join(', ');
}

/**
 * Connections the kernel dropped because a listening socket's accept queue was full
 * (`TcpExt: ListenOverflows` of /proc/net/netstat, machine-wide; 0 where it cannot be read). Node
 * accepts one connection per event-loop turn (libuv since 1.45), so a saturated app lets new
 * connections (each SSE stream of the bench) wait in that queue, then overflow it.
 */
export function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[at]?.split(' ') ?? [];
    const values = lines[at + 1]?.split(' ') ?? [];
    return Number(values[names.indexOf('ListenOverflows')] ?? 0) || 0;
  } catch {
    return 0;
  }
}
