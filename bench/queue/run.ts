// Benchmark of @boxoffice/queue: join/status throughput against a raw two-command ioredis loop,
// memory per waiting user at 1,000,000 waiters against the naive two-ZSET design, and tick() time
// admitting 1,000 with 1,000,000 waiting. See the README of this folder.
import { randomUUID } from 'node:crypto';
import { freePort, getRedis, hasBinary, spawnRedis } from '@boxoffice/local-redis';
import { AccessTokens, WaitingRoom } from '@boxoffice/queue';
import { type Command, Redis } from 'ioredis';
import { print, type Table, writeSection } from '../lib/report.js';

const LOOPS = 50;
const DURATION_MS = Number(process.env.BENCH_QUEUE_SECONDS ?? 1.5) * 1000;
const ROUNDS = 7;
const WAITERS = Number(process.env.BENCH_QUEUE_WAITERS ?? 1_000_000);
const tokens = new AccessTokens({
  secret: 'bench-secret-bench-secret-bench-secret',
  issuer: 'bench',
});

/** Client (this process) CPU µs per operation of each throughput() call, in call order. */
const clientCpu: number[] = [];

/** `LOOPS` concurrent loops calling `op(i)` for `DURATION_MS`; returns operations per second. */
async function throughput(op: (i: number) => Promise<unknown>): Promise<number> {
  let n = 0;
  const end = Date.now() + DURATION_MS;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: LOOPS }, async () => {
      while (Date.now() < end) await op(n++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  clientCpu.push((used.user + used.system) / n);
  return n / seconds;
}

async function usedMemory(client: Redis): Promise<number> {
  const info = await client.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

/** Mean execution time (µs) of scripts since the last CONFIG RESETSTAT, from INFO commandstats. */
async function scriptUsecPerCall(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const [, c, u] of stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+),usec=(\d+)/g)) {
    calls += Number(c);
    usec += Number(u);
  }
  return calls ? usec / calls : Number.NaN;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
function p95(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] as number;
}

async function fill(room: WaitingRoom, n: number, tag: string): Promise<void> {
  const batch = 5000;
  for (let i = 0; i < n; i += batch) {
    const size = Math.min(batch, n - i);
    await Promise.all(
      Array.from({ length: size }, () => room.join(`${tag}${randomUUID()}`.slice(-36))),
    );
  }
}

// Fills a ZSET pair the naive way inside Redis (fast), with UUID-shaped members like the room's.
const NAIVE_FILL = `
local n, off = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = off + 1, off + n do
  local u = string.format('%08x-%04x-4%03x-a%03x-%012x', (i * 2654435761) % 4294967296, i % 65536,
    (i * 7) % 4096, (i * 13) % 4096, i * 1000003)
  redis.call('ZADD', KEYS[1], i, u)
  redis.call('ZADD', KEYS[2], 1700000000000 + i, u)
end
return n`;

async function main(): Promise<void> {
  const redis = await getRedis();
  const client = new Redis(redis.url);
  const tables: Table[] = [];
  const prefix = `bench${Date.now().toString(36)}`;
  try {
    // 1. Throughput: room.join / room.status vs raw ZADD NX + ZRANK (two awaited commands).
    const room = new WaitingRoom(client, { roomId: 'tput', prefix, tokens, maxActive: 1 });
    const ids = Array.from({ length: 400_000 }, () => randomUUID());
    const rawKey = `${prefix}:raw`;
    const rows: (string | number)[][] = [];
    const raw = (i: number) => {
      const id = ids[i % ids.length] as string;
      return client.zadd(rawKey, 'NX', i, id).then(() => client.zrank(rawKey, id));
    };
    await throughput(raw); // warm-up (connections, JIT, script load)
    await throughput((i) => room.join(ids[(i + 200_000) % ids.length] as string));
    // Alternate short slices of each so that load from other processes hits both alike; report
    // the median of each and the median of the per-round ratios.
    const rounds = {
      rawJoin: [] as number[],
      roomJoin: [] as number[],
      rawStatus: [] as number[],
      roomStatus: [] as number[],
    };
    const cpu = { rawJoin: [] as number[], roomJoin: [] as number[] };
    const last = () => clientCpu[clientCpu.length - 1] as number;
    // Lua calls the room sends (it batches the visits of one event-loop tick into one call).
    let scriptCalls = 0;
    let roomJoins = 0;
    let scriptCallsInJoins = 0;
    let offset = 0;
    const send = client.sendCommand.bind(client);
    client.sendCommand = ((command: Command, stream?: never) => {
      if (command.name === 'evalsha' || command.name === 'eval') scriptCalls++;
      return send(command, stream);
    }) as typeof client.sendCommand;
    const rawJoinRound = async () => {
      rounds.rawJoin.push(await throughput((i) => raw(i + offset)));
      cpu.rawJoin.push(last());
    };
    const roomJoinRound = async () => {
      const calls = scriptCalls;
      let n = 0;
      rounds.roomJoin.push(
        await throughput((i) => {
          n++;
          return room.join(ids[(i + offset) % ids.length] as string);
        }),
      );
      cpu.roomJoin.push(last());
      roomJoins += n;
      scriptCallsInJoins += scriptCalls - calls;
    };
    for (let round = 0; round < ROUNDS; round++) {
      const first = round % 2 === 0;
      if (first) await rawJoinRound();
      await roomJoinRound();
      if (!first) await rawJoinRound();
      offset += 37_000;
      if (first)
        rounds.rawStatus.push(
          await throughput((i) => client.zrank(rawKey, ids[i % 1000] as string)),
        );
      rounds.roomStatus.push(await throughput((i) => room.status(ids[i % 1000] as string)));
      if (!first)
        rounds.rawStatus.push(
          await throughput((i) => client.zrank(rawKey, ids[i % 1000] as string)),
        );
    }
    client.sendCommand = send;
    const ratio = (a: number[], b: number[]) => median(a.map((x, i) => x / (b[i] as number)));
    const rawJoin = median(rounds.rawJoin);
    const roomJoin = median(rounds.roomJoin);
    const rawStatus = median(rounds.rawStatus);
    const roomStatus = median(rounds.roomStatus);
    const joinRatio = ratio(rounds.roomJoin, rounds.rawJoin);
    const statusRatio = ratio(rounds.roomStatus, rounds.rawStatus);
    const minJoinRatio = Math.min(
      ...rounds.roomJoin.map((x, i) => x / (rounds.rawJoin[i] as number)),
    );
    rows.push(['join (room.join vs ZADD NX + ZRANK)', roomJoin, rawJoin, joinRatio]);
    rows.push(['status (room.status vs one ZRANK)', roomStatus, rawStatus, statusRatio]);
    tables.push({
      title: 'Throughput, 50 concurrent loops on one client',
      columns: [
        'operation',
        'room ops/s (median)',
        'raw ioredis ops/s (median)',
        'ratio (median of rounds)',
      ],
      rows,
      notes: [
        `${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s each; per-round ratios: join ${rounds.roomJoin.map((x, i) => (x / (rounds.rawJoin[i] as number)).toFixed(2)).join(', ')}.`,
        `Target: join ≥ 1.0× the raw loop: **${joinRatio >= 1 ? 'met' : 'not met'}** (median ${joinRatio.toFixed(2)}×, lowest round ${minJoinRatio.toFixed(2)}×).`,
        `Why: the room sends the join/heartbeat/status calls made in the same event-loop tick as one Lua call (${(roomJoins / scriptCallsInJoins).toFixed(1)} joins per call on average in this run), so 50 loops cost about one round trip and one script run per 50 joins; the raw loop sends two commands per join. Client CPU per join (this process, median): room ${median(cpu.roomJoin).toFixed(1)} µs, raw loop ${median(cpu.rawJoin).toFixed(1)} µs.`,
        'The status row compares with a single ZRANK (one round trip each); room.status also computes total, ETA and heartbeat cadence in the same Lua call.',
      ],
    });
    print(tables[0] as Table);
    await room.close();
    await client.del(rawKey, `${room.keys[6]}`);

    // 2. Memory per waiting user and 3. tick time, on a private server when one can be spawned (the
    // shared one's used_memory moves with other users' keys).
    const own = hasBinary('redis-server')
      ? await spawnRedis({ port: await freePort() })
      : undefined;
    const mem = own ? new Redis(own.url) : client;
    try {
      const big = new WaitingRoom(mem, {
        roomId: 'mem',
        prefix,
        tokens,
        maxActive: 10_000_000,
        admitPerTick: 1000,
        tickMs: 1000,
        heartbeatTimeoutMs: 3_600_000,
      });
      const before = await usedMemory(mem);
      await fill(big, WAITERS, '');
      const after = await usedMemory(mem);
      const roomBytes = (after - before) / WAITERS;
      const naiveKeys = [`${prefix}:naive:{n}:arrival`, `${prefix}:naive:{n}:heartbeat`];
      const nb = await usedMemory(mem);
      for (let off = 0; off < WAITERS; off += 100_000) {
        await mem.eval(NAIVE_FILL, 2, ...naiveKeys, Math.min(100_000, WAITERS - off), off);
      }
      const naiveBytes = ((await usedMemory(mem)) - nb) / WAITERS;
      await mem.del(...naiveKeys);
      tables.push({
        title: `Memory per waiting user at ${WAITERS.toLocaleString('en-US')} waiters (UUID user ids)`,
        columns: ['design', 'bytes per waiting user', 'vs naive'],
        rows: [
          [
            'WaitingRoom (ZSET userId→ticket + ZSET ticket→heartbeat deadline)',
            roomBytes,
            roomBytes / naiveBytes,
          ],
          ['naive (ZSET by arrival + ZSET by last heartbeat, UUID members)', naiveBytes, 1],
        ],
        notes: [
          `INFO memory used_memory delta / N${own ? ' on a private redis-server' : ' (shared server: noisy)'}. Target ≤ 200 bytes: **${roomBytes <= 200 ? 'met' : 'not met'}**.`,
        ],
      });
      print(tables[1] as Table);

      // 3. tick() admitting 1,000 with ~1,000,000 waiting (each round admits the next 1,000).
      await big.tick(); // loads the script (EVALSHA → EVAL fallback) outside the measured rounds
      await mem.config('RESETSTAT');
      const times: number[] = [];
      let admitted = 0;
      for (let i = 0; i < 30; i++) {
        const t0 = process.hrtime.bigint();
        const r = await big.tick();
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        admitted += r.admitted.length;
      }
      const admitServer = await scriptUsecPerCall(mem);
      // evicting: make the whole line silent (every heartbeat deadline 0: one ZUNIONSTORE with
      // weight 0 over the deadline ZSET) and measure rounds that evict 1,000 each; maxActive 1 is
      // full, so these rounds admit nobody
      const evictRoom = new WaitingRoom(mem, {
        roomId: 'mem',
        prefix,
        tokens,
        maxActive: 1,
        admitPerTick: 1,
        evictPerTick: 1000,
      });
      const deadlines = big.keys[6] as string;
      await mem.zunionstore(deadlines, 1, deadlines, 'WEIGHTS', 0);
      await mem.config('RESETSTAT');
      const evictTimes: number[] = [];
      let evicted = 0;
      for (let i = 0; i < 30; i++) {
        const t0 = process.hrtime.bigint();
        const r = await evictRoom.tick();
        evictTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
        evicted += r.evicted.length + r.expired.length;
      }
      const evictServer = await scriptUsecPerCall(mem);
      tables.push({
        title: `tick() with ${WAITERS.toLocaleString('en-US')} waiting`,
        columns: ['round', 'median ms', 'p95 ms', 'Redis-side ms (mean)', 'users per round'],
        rows: [
          ['admit 1,000', median(times), p95(times), admitServer / 1000, admitted / times.length],
          [
            'evict 1,000 silent waiters',
            median(evictTimes),
            p95(evictTimes),
            evictServer / 1000,
            evicted / evictTimes.length,
          ],
        ],
        notes: [
          '"median/p95 ms": client-side time of one tick() (one Lua call + one PUBLISH + decoding). "Redis-side": the script\'s own execution time from INFO commandstats on the private server.',
          `Target ≤ 20 ms for admitting 1,000: **${median(times) <= 20 ? 'met' : 'not met'}** (median).`,
        ],
      });
      print(tables[2] as Table);
      await big.close();
    } finally {
      mem.disconnect();
      await own?.stop();
    }
  } finally {
    client.disconnect();
    await redis.stop();
  }
  writeSection('queue', '@boxoffice/queue', tables, [
    'Absolute numbers were measured on a shared, busy 2-core machine and are noisy; the ratios compare runs made seconds apart on the same client.',
  ]);
}

await main();
