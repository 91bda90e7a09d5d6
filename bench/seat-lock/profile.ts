// Diagnostics for the seat-lock benchmark (not part of BENCHMARKS.md): on a private redis-server,
// (a) client CPU µs and server CPU µs per uncontended acquire+release pair for each implementation,
// (b) the INFO commandstats breakdown per success with 200 contenders on one seat.
// Run: npx tsx bench/seat-lock/profile.ts [a|b]   (BENCH_PROFILE_MS per measurement, default 3000)
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { freePort, spawnRedis } from '@boxoffice/local-redis';
import { SeatLock } from '@boxoffice/seat-lock';
import { Redis } from 'ioredis';
import Redlock from 'redlock';

const MS = Number(process.env.BENCH_PROFILE_MS ?? 3_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function commandStats(client: Redis): Promise<Map<string, number>> {
  const info = await client.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    out.set(m[1] as string, Number(m[2]));
  return out;
}

async function serverCpu(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return (user + sys) * 1e6;
}

type Pair = (seat: string) => Promise<void>;

const signals: AbortSignal[] = [];
async function loops(pair: Pair, ms: number): Promise<number> {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      while (Date.now() < end) {
        // Like run.ts, which hands every implementation a fresh signal per call.
        signals.push(new AbortController().signal);
        if (signals.length > 64) signals.length = 0;
        await pair(`u${i}`);
        n++;
      }
    }),
  );
  return n;
}

async function partA(url: string, stats: Redis, prefix: string) {
  const CAD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
  const impls: [string, () => Promise<[Pair, () => void]>][] = [
    [
      'seat-lock acquire',
      async () => {
        const c = new Redis(url);
        const locks = new SeatLock(c, {
          prefix: `${prefix}:s1`,
          ttlMs: 10_000,
          retry: { waitMs: 60_000 },
        });
        return [
          async (seat) => {
            const l = await locks.acquire([seat], { signal: signals[signals.length - 1] });
            await l.release();
          },
          () => {
            void locks.close();
            c.disconnect();
          },
        ];
      },
    ],
    [
      'seat-lock tryAcquire',
      async () => {
        const c = new Redis(url);
        const locks = new SeatLock(c, { prefix: `${prefix}:s2`, ttlMs: 10_000 });
        return [
          async (seat) => {
            const l = await locks.tryAcquire([seat]);
            await l?.release();
          },
          () => {
            void locks.close();
            c.disconnect();
          },
        ];
      },
    ],
    [
      'redlock',
      async () => {
        const c = new Redis(url);
        const rl = new Redlock([c], { retryCount: 0 });
        rl.on('error', () => {});
        return [
          async (seat) => {
            const l = await rl.acquire([`${prefix}:r:${seat}`], 10_000);
            await l.release();
          },
          () => c.disconnect(),
        ];
      },
    ],
    [
      'hand-written',
      async () => {
        const c = new Redis(url);
        c.defineCommand('benchCad', { numberOfKeys: 1, lua: CAD });
        const cad = (k: string, t: string) =>
          (c as unknown as { benchCad(k: string, t: string): Promise<number> }).benchCad(k, t);
        return [
          async (seat) => {
            const key = `${prefix}:h:${seat}`;
            const token = randomBytes(16).toString('hex');
            if ((await c.set(key, token, 'PX', 10_000, 'NX')) !== 'OK') throw new Error('taken');
            await cad(key, token);
          },
          () => c.disconnect(),
        ];
      },
    ],
  ];
  const only = process.env.BENCH_PROFILE_ONLY;
  for (const [name, make] of impls) {
    if (only && name !== only) continue;
    const [pair, close] = await make();
    await loops(pair, 500);
    const c0 = await commandStats(stats);
    const cpu0 = process.cpuUsage();
    const s0 = await serverCpu(stats);
    const t0 = performance.now();
    const n = await loops(pair, MS);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const s1 = await serverCpu(stats);
    const c1 = await commandStats(stats);
    const calls = [...c1].reduce((t, [k, v]) => (k === 'info' ? t : t + v - (c0.get(k) ?? 0)), 0);
    const evalsha = (c1.get('evalsha') ?? 0) - (c0.get('evalsha') ?? 0);
    close();
    console.log(
      `(a) ${name.padEnd(22)} ${Math.round(n / secs)} pairs/s  client ${((cpu.user + cpu.system) / n).toFixed(1)} µs/pair (sys ${(cpu.system / n).toFixed(1)})  server ${((s1 - s0) / n).toFixed(1)} µs/pair  ${(calls / n).toFixed(2)} cmds/pair  ${(evalsha / n).toFixed(3)} evalsha/pair`,
    );
    await sleep(200);
  }
}

async function partB(url: string, stats: Redis, prefix: string) {
  const client = new Redis(url);
  const locks = new SeatLock(client, {
    prefix: `${prefix}:b`,
    ttlMs: 10_000,
    retry: { waitMs: 60_000 },
  });
  const stop = new AbortController();
  setMaxListeners(1000, stop.signal);
  let successes = 0;
  let counting = false;
  const runs = Array.from({ length: 200 }, async () => {
    while (!stop.signal.aborted) {
      let lease: Awaited<ReturnType<SeatLock['acquire']>>;
      try {
        lease = await locks.acquire(['hot'], { signal: stop.signal });
      } catch {
        continue;
      }
      if (counting) successes++;
      await sleep(1);
      await lease.release();
    }
  });
  await sleep(1_000);
  const before = await commandStats(stats);
  counting = true;
  await sleep(MS);
  counting = false;
  const after = await commandStats(stats);
  stop.abort();
  await Promise.allSettled(runs);
  await locks.close();
  client.disconnect();
  let total = 0;
  const rows: [string, number][] = [];
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (k === 'info') continue;
    if (d > 0) rows.push([k, d / successes]);
    total += d;
  }
  console.log(`(b) ${successes} successes, ${(total / successes).toFixed(3)} commands/success`);
  for (const [k, v] of rows.sort((x, y) => y[1] - x[1]))
    console.log(`    ${k.padEnd(10)} ${v.toFixed(3)}`);
}

async function main() {
  const which = process.argv[2] ?? 'ab';
  const server = await spawnRedis({ port: await freePort() });
  const stats = new Redis(server.url);
  const prefix = `prof:${randomBytes(3).toString('hex')}`;
  try {
    if (which.includes('a')) await partA(server.url, stats, prefix);
    if (which.includes('b')) await partB(server.url, stats, prefix);
  } finally {
    stats.disconnect();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
