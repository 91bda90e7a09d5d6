import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * CPU seconds (user + system) a process and its live children (HTTP_WORKERS) have used so far, from
 * /proc (Linux).
 */
export function cpuSeconds(pid: number | undefined): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return (
    ownCpuSeconds(pid ?? -1) +
    (children ? children.split(' ').reduce((sum, c) => sum + cpuSeconds(Number(c)), 0) : 0)
  );
}

/** utime + stime of one /proc/<pid>/stat line, in seconds (USER_HZ 100); 0 if it is gone. */
function ownCpuSeconds(pid: number | string): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by every live process named `command` (e.g. `postgres`: the server and
 * its backends). A process that exited between two readings takes its time with it, so compare
 * readings over a window where the processes live on (a connection pool's backends do).
 */
export function cpuSecondsOf(command: string): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command) sum += ownCpuSeconds(pid);
    } catch {
      // exited while listed
    }
  }
  return sum;
}

/**
 * CPU seconds of the whole machine so far, all cores, from /proc/stat: `busy` is user, nice,
 * system, irq and softirq; `steal` the time the hypervisor ran something else while this machine
 * wanted to run (not idle, not busy: cores this machine did not get).
 */
export function machineSeconds(): { busy: number; steal: number } {
  const [, ...ticks] = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').split(/\s+/);
  const n = ticks.map((t) => Number(t) || 0);
  const busy = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0);
  return { busy: busy / 100, steal: (n[7] ?? 0) / 100 };
}

/** CPU seconds used so far by each part of the machine, at `at` (ms). */
export interface CpuReading {
  at: number;
  app: number;
  /** Every `postgres` process: the server and its backends (all of the machine's databases). */
  postgres: number;
  redis: number;
  /** The load generator and its stream processes. */
  client: number;
  /** The whole machine, busy ({@link machineSeconds}). */
  machine: number;
  steal: number;
}

/** Read the machine's parts now: `app` and `client` as the caller measured them, Redis by pid. */
export function readCpu(app: number, redisPid: number, client: number): CpuReading {
  const postgres = cpuSecondsOf('postgres');
  const { busy: machine, steal } = machineSeconds();
  return { at: Date.now(), app, postgres, redis: ownCpuSeconds(redisPid), client, machine, steal };
}

/**
 * Cores (CPU seconds per wall second) each part used between two readings (the sale phase, the
 * arrival), and the whole machine's busy CPU per seat sold in between.
 */
export interface CoresUsed extends Omit<CpuReading, 'at'> {
  machineMsPerBooking: number;
}

/** {@link CoresUsed} between two readings (undefined without a start). */
export function cpuBetween(
  from: CpuReading | undefined,
  to: CpuReading,
  booked: number,
): CoresUsed | undefined {
  if (!from || to.at <= from.at) return undefined;
  const wallS = (to.at - from.at) / 1000;
  const cores = (part: Exclude<keyof CpuReading, 'at'>) => (to[part] - from[part]) / wallS;
  return {
    app: cores('app'),
    postgres: cores('postgres'),
    redis: cores('redis'),
    client: cores('client'),
    machine: cores('machine'),
    steal: cores('steal'),
    machineMsPerBooking: booked > 0 ? ((to.machine - from.machine) * 1000) / booked : 0,
  };
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
