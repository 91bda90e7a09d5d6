// Benchmark of @boxoffice/seat-lock against the `redlock` package and a hand-written SET NX PX lock,
// on one Redis, in one run. Writes its tables into BENCHMARKS.md (section "seat-lock").
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { freePort, getRedis, hasBinary, spawnRedis } from '@boxoffice/local-redis';
import { SeatLock } from '@boxoffice/seat-lock';
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { loadNote, print, type Table, writeSection } from '../lib/report.js';

const UNCONTENDED_MS = Number(process.env.BENCH_UNCONTENDED_MS ?? 4_000);
const WARMUP_MS = 1_000;
const ROUNDS = 2;
const CONTENDED_MS = Number(process.env.BENCH_CONTENDED_MS ?? 8_000);
const LOOPS = 50;
const CONTENDERS = 200;
const TTL = 10_000;

type Release = () => Promise<unknown>;
interface Impl {
  name: string;
  /** Resolves when held; rejects/returns null when not acquired (uncontended: never). */
  acquire(seat: string, signal: AbortSignal): Promise<Release | null>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) =>
  sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number)
    : Number.NaN;

async function commandCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(m[1]);
  return total;
}

// --- implementations ------------------------------------------------------------------------

function seatLockImpl(url: string, prefix: string): Impl {
  const client = new Redis(url);
  const locks = new SeatLock(client, { prefix, ttlMs: TTL, retry: { waitMs: 60_000 } });
  return {
    name: '@boxoffice/seat-lock',
    async acquire(seat, signal) {
      const lease = await locks.acquire([seat], { signal });
      return () => lease.release();
    },
    async close() {
      await locks.close();
      client.disconnect();
    },
  };
}

function redlockImpl(url: string, prefix: string, contended: boolean): Impl {
  const client = new Redis(url);
  // Uncontended: one attempt (retryCount 0). Contended: retry forever with the package defaults
  // (retryDelay 200 ms, retryJitter 200 ms), the baseline the issue was measured with.
  const redlock = new Redlock([client], contended ? { retryCount: -1 } : { retryCount: 0 });
  redlock.on('error', () => {});
  return {
    name: 'redlock 5.0.0-beta.2',
    async acquire(seat) {
      const lock = await redlock.acquire([`${prefix}:${seat}`], TTL);
      return () => lock.release().catch(() => undefined);
    },
    async close() {
      client.disconnect();
    },
  };
}

const CAD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

function handWrittenImpl(url: string, prefix: string, spinMs: number): Impl {
  const client = new Redis(url);
  client.defineCommand('benchCad', { numberOfKeys: 1, lua: CAD });
  const cad = (key: string, token: string) =>
    (client as unknown as { benchCad(k: string, t: string): Promise<number> }).benchCad(key, token);
  return {
    name: spinMs
      ? `SET NX PX, fixed ${spinMs} ms spin`
      : 'hand-written SET NX PX + compare-and-delete',
    async acquire(seat, signal) {
      const key = `${prefix}:${seat}`;
      const token = randomBytes(16).toString('hex');
      for (;;) {
        if ((await client.set(key, token, 'PX', TTL, 'NX')) === 'OK') return () => cad(key, token);
        if (!spinMs || signal.aborted) return null;
        await sleep(spinMs);
      }
    },
    async close() {
      client.disconnect();
    },
  };
}

// --- (a) uncontended -----------------------------------------------------------------------

/** Pairs per second, and this process's CPU time (user + system) per pair in µs. */
async function uncontended(impl: Impl, ms = UNCONTENDED_MS): Promise<[number, number]> {
  const stop = new AbortController();
  let pairs = 0;
  const cpu = process.cpuUsage();
  const started = Date.now();
  const timer = setTimeout(() => stop.abort(), ms);
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, i) => {
      const seat = `u${i}`;
      while (!stop.signal.aborted) {
        const release = await impl.acquire(seat, new AbortController().signal);
        if (!release) throw new Error(`${impl.name}: uncontended acquire failed`);
        await release();
        pairs++;
      }
    }),
  );
  clearTimeout(timer);
  const used = process.cpuUsage(cpu);
  return [pairs / ((Date.now() - started) / 1000), (used.user + used.system) / Math.max(1, pairs)];
}

// --- (b) contended -------------------------------------------------------------------------

interface Contended {
  successesPerSec: number;
  commandsPerSuccess: number;
  sameOwnerShare: number;
  handoffP50: number;
  handoffP99: number;
  waitP99: number;
  waitMax: number;
  minPerContender: number;
  maxPerContender: number;
}

async function contended(impl: Impl, stats: Redis): Promise<Contended> {
  const stop = new AbortController();
  setMaxListeners(CONTENDERS * 2, stop.signal); // every waiting contender listens to it
  let successes = 0;
  let same = 0;
  let last: { who: number; at: number } | undefined;
  const handoffs: number[] = [];
  const waits: number[] = [];
  const perContender = new Array<number>(CONTENDERS).fill(0);
  let inWindow = true;
  const before = await commandCalls(stats);
  const started = performance.now();
  let after = before;
  let elapsed = 0;
  const timer = setTimeout(async () => {
    inWindow = false;
    elapsed = (performance.now() - started) / 1000;
    after = await commandCalls(stats);
    stop.abort();
  }, CONTENDED_MS);
  const runs = Array.from({ length: CONTENDERS }, async (_, who) => {
    while (!stop.signal.aborted) {
      const asked = performance.now();
      let release: Release | null;
      try {
        release = await impl.acquire('hot', stop.signal);
      } catch {
        if (stop.signal.aborted) return;
        continue;
      }
      if (!release) continue;
      const now = performance.now();
      if (inWindow) {
        successes++;
        perContender[who] = (perContender[who] ?? 0) + 1;
        waits.push(now - asked);
        if (last?.who === who) same++;
        else if (last) handoffs.push(now - last.at);
      }
      await sleep(1);
      last = { who, at: performance.now() };
      await release();
    }
  });
  await Promise.race([Promise.all(runs), sleep(CONTENDED_MS + 5_000)]);
  clearTimeout(timer);
  await impl.close(); // ends contenders still retrying (redlock has no abort signal)
  handoffs.sort((a, b) => a - b);
  waits.sort((a, b) => a - b);
  const counted = perContender;
  return {
    successesPerSec: successes / elapsed,
    commandsPerSuccess: (after - before) / Math.max(1, successes),
    sameOwnerShare: successes ? same / successes : Number.NaN,
    handoffP50: pct(handoffs, 50),
    handoffP99: pct(handoffs, 99),
    waitP99: pct(waits, 99),
    waitMax: waits[waits.length - 1] ?? Number.NaN,
    minPerContender: Math.min(...counted),
    maxPerContender: Math.max(...counted),
  };
}

// --- main ----------------------------------------------------------------------------------

async function main() {
  // INFO commandstats must count only this benchmark's commands: use a private redis-server when
  // one can be spawned (other processes may share the default Redis), else what getRedis() finds.
  let url: string;
  let stopServer: () => Promise<void>;
  let source: string;
  if (!process.env.REDIS_URL && hasBinary('redis-server')) {
    const server = await spawnRedis({ port: await freePort() });
    url = server.url;
    stopServer = () => server.stop();
    source = 'private redis-server (spawned)';
  } else {
    const found = await getRedis();
    url = found.url;
    stopServer = () => found.stop();
    source = `${found.source} (${url}); commandstats may include other clients' commands`;
  }
  const stats = new Redis(url);
  const version = ((await stats.info('server')).match(/redis_version:(\S+)/) ?? [])[1] ?? '?';
  const prefix = `bench:${randomBytes(4).toString('hex')}`;
  console.log(`seat-lock benchmark on Redis ${version}, ${source}`);

  // Each implementation gets a warm-up (JIT, script loading) and runs in ROUNDS rounds in rotated
  // order, so none is always first on a machine whose load changes; the mean is reported.
  const makers = [
    () => seatLockImpl(url, `${prefix}:a1`),
    () => redlockImpl(url, `${prefix}:a2`, false),
    () => handWrittenImpl(url, `${prefix}:a3`, 0),
  ];
  const sums = makers.map(() => 0);
  const cpuSums = makers.map(() => 0);
  const names: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < makers.length; k++) {
      const which = (k + round) % makers.length;
      const impl = (makers[which] as () => Impl)();
      names[which] = impl.name;
      await uncontended(impl, WARMUP_MS);
      const [rate, cpu] = await uncontended(impl);
      await impl.close();
      console.log(
        `(a) round ${round + 1} ${impl.name}: ${Math.round(rate)} pairs/s, client CPU ${cpu.toFixed(1)} µs/pair`,
      );
      sums[which] = (sums[which] ?? 0) + rate;
      cpuSums[which] = (cpuSums[which] ?? 0) + cpu;
    }
  }
  const a: [string, number, number][] = names.map((name, i) => [
    name,
    (sums[i] ?? 0) / ROUNDS,
    (cpuSums[i] ?? 0) / ROUNDS,
  ]);
  const redlockA = a[1]?.[1] ?? Number.NaN;
  const oursA = a[0]?.[1] ?? Number.NaN;
  const redlockCpu = a[1]?.[2] ?? Number.NaN;
  const oursCpu = a[0]?.[2] ?? Number.NaN;

  const b: [string, Contended][] = [];
  for (const make of [
    () => seatLockImpl(url, `${prefix}:b1`),
    () => redlockImpl(url, `${prefix}:b2`, true),
    () => handWrittenImpl(url, `${prefix}:b3`, 5),
  ]) {
    const impl = make();
    const r = await contended(impl, stats);
    console.log(`(b) ${impl.name}:`, r);
    b.push([impl.name, r]);
  }
  stats.disconnect();
  await stopServer();

  const ours = b[0]?.[1] as Contended;
  const ref = b[1]?.[1] as Contended;
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}×`;
  const tables: Table[] = [
    {
      title: `(a) Uncontended acquire + release, ${LOOPS} concurrent loops on distinct seats (mean of ${ROUNDS} rounds of ${UNCONTENDED_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up)`,
      columns: [
        'implementation',
        'pairs/s',
        'vs redlock',
        'client CPU µs / pair',
        'CPU vs redlock',
      ],
      rows: a.map(([name, rate, cpu]) => [
        name,
        rate,
        ratio(rate, redlockA),
        cpu,
        ratio(cpu, redlockCpu),
      ]),
      notes: [
        `Target ≥ 1.4× redlock: ${oursA / redlockA >= 1.4 ? 'met' : 'NOT met'} (${ratio(oursA, redlockA)}).`,
        `Client CPU: user + system time of the benchmark process (process.cpuUsage) over the measured rounds, per pair; less sensitive to the machine's load than pairs/s. @boxoffice/seat-lock uses ${ratio(oursCpu, redlockCpu)} of redlock's.`,
        '@boxoffice/seat-lock sends the lock calls made in one tick as one EVALSHA of up to 16 operations (the 50 loops share a few calls per round): fewer, larger script calls for client and Redis.',
      ],
    },
    {
      title: `(b) ${CONTENDERS} contenders cycling on one seat, winner holds ~1 ms (${CONTENDED_MS / 1000} s each)`,
      columns: [
        'implementation',
        'successes/s',
        'Redis commands / success',
        'same-owner re-acquires',
        'handoff p50 ms',
        'handoff p99 ms',
        'wait p99 ms',
        'max wait ms',
        'successes per contender (min–max)',
      ],
      rows: b.map(([name, r]) => [
        name,
        r.successesPerSec,
        r.commandsPerSuccess,
        `${(r.sameOwnerShare * 100).toFixed(0)}%`,
        r.handoffP50,
        r.handoffP99,
        r.waitP99,
        r.waitMax,
        `${r.minPerContender}–${r.maxPerContender}`,
      ]),
      notes: [
        'Commands: delta of INFO commandstats calls (includes commands run inside Lua, EVALSHA itself and PUBLISH) over the window, divided by successes in it.',
        'Handoff latency: from the moment a holder starts releasing to the next acquisition by a *different* contender.',
        `Targets vs redlock: successes/s ≥ 1.0× → ${ours.successesPerSec >= ref.successesPerSec ? 'met' : 'NOT met'} (${ratio(ours.successesPerSec, ref.successesPerSec)}); ` +
          `commands/success ≤ 0.5× → ${ours.commandsPerSuccess <= 0.5 * ref.commandsPerSuccess ? 'met' : 'NOT met'} (${ratio(ours.commandsPerSuccess, ref.commandsPerSuccess)}); ` +
          `handoff p99 ≤ 0.5× → ${ours.handoffP99 <= 0.5 * ref.handoffP99 ? 'met' : 'NOT met'} (${ratio(ours.handoffP99, ref.handoffP99)}); ` +
          `no contender starved → ${ours.minPerContender > 0 ? 'met' : 'NOT met'} (min ${ours.minPerContender} successes per contender, max wait ${Math.round(ours.waitMax)} ms).`,
      ],
    },
  ];
  for (const t of tables) print(t);
  writeSection('seat-lock', '@boxoffice/seat-lock', tables, [
    `Redis ${version}, ${source}; client and server on the same machine.`,
    `${loadNote()} All rows were measured in the same run on the same server.`,
  ]);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
