// Where a run's Redis commands go, by the part of the app that sent them: opt-in with
// BENCH_LOAD_REDIS_MONITOR=<file prefix>, because Redis MONITOR slows Redis and fills a file
// (~35 MB for the 10,000-user run). INFO commandstats counts commands by name only; MONITOR also
// shows the commands a Lua script runs, each with its key, which says whose it is.
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, openSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** A key's part of the app, by its name after the app's prefix (first match wins). */
const FAMILIES: readonly (readonly [RegExp, string])[] = [
  [/^[^:]*:\{events\}:/, 'BullMQ: payment.succeeded jobs'],
  [/^[^:]*:\{holds\}:seat-holds:/, 'BullMQ: hold wake-up jobs'],
  [/^[^:]*:\{payments\}:/, 'BullMQ: payment retry jobs'],
  [/^[^:]*:\{holds\}:/, 'seat holds'],
  [/^[^:]*:(lock|fence|wait):/, 'seat locks'],
  [/^[^:]*:q:/, 'waiting room'],
  [/^[^:]*:idem:/, 'idempotency: payment keys, consumer dedupe'],
  [/^[^:]*:ratelimit:/, 'rate limits'],
  [/^[^:]*:revoked-token:/, 'token revocation checks'],
  [/:trend:/, 'trending sketches'],
];

/** Commands without a key (connection set-up, the bench's INFO, the scripts' TIME). */
const KEYLESS = new Set(['info', 'ping', 'hello', 'client', 'time']);

/** One MONITOR line: `<seconds.micros> [<db> <client or lua>] "cmd" "arg" …`. */
const LINE = /^(\d+)\.(\d+) \[\d+ ([^\]]+)\] (.*)$/;
const ARG = /"((?:[^"\\]|\\.)*)"/g;

/** The family of one command (its key, or what it is when it has none). */
export function familyOf(fromScript: boolean, args: readonly string[]): string {
  const command = (args[0] ?? '').toLowerCase();
  const script = command === 'evalsha' || command === 'eval';
  const key = script
    ? args[2] !== '0'
      ? args[3]
      : undefined
    : KEYLESS.has(command)
      ? undefined
      : args[1];
  if (key === undefined) {
    return command === 'time' && fromScript ? 'server clock (TIME inside scripts)' : 'connections';
  }
  return FAMILIES.find(([re]) => re.test(key))?.[1] ?? `other (${key.split(':', 2).join(':')})`;
}

/** Redis MONITOR into a file while a run lasts; then the commands of a time window by family. */
export class RedisMonitor {
  readonly #child: ChildProcess;

  private constructor(
    readonly file: string,
    url: string,
  ) {
    this.#child = spawn('redis-cli', ['-u', url, 'monitor'], {
      stdio: ['ignore', openSync(file, 'w'), 'ignore'],
    });
  }

  /** A monitor of the Redis at `url` when BENCH_LOAD_REDIS_MONITOR is set, else undefined. */
  static start(url: string, label: string): RedisMonitor | undefined {
    const prefix = process.env.BENCH_LOAD_REDIS_MONITOR;
    return prefix ? new RedisMonitor(`${prefix}-${label}.log`, url) : undefined;
  }

  stop(): void {
    this.#child.kill();
  }

  /** Commands run from `fromMs` to `toMs` (Redis' clock, this machine's), per family. */
  async families(fromMs: number, toMs: number): Promise<Map<string, number>> {
    this.stop();
    const counts = new Map<string, number>();
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    for await (const line of lines) {
      const m = LINE.exec(line);
      if (!m) continue;
      const atMs = Number(m[1]) * 1000 + Number(m[2]) / 1000;
      if (atMs < fromMs || atMs > toMs) continue;
      const args = [...(m[4] as string).matchAll(ARG)].map((a) => a[1] as string);
      const family = familyOf(m[3] === 'lua', args);
      counts.set(family, (counts.get(family) ?? 0) + 1);
    }
    return counts;
  }

  /** Print the sale phase's commands per sold seat, by family (largest first). */
  async printSale(fromMs: number, toMs: number, sold: number): Promise<void> {
    const counts = [...(await this.families(fromMs, toMs))].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const perSeat = (n: number) => (sold > 0 ? n / sold : 0).toFixed(1);
    console.log(
      `Redis commands per sold seat in the sale phase, by family (MONITOR, ${this.file}):`,
    );
    for (const [family, n] of counts) console.log(`  ${perSeat(n).padStart(6)}  ${family}`);
    console.log(`  ${perSeat(total).padStart(6)}  all`);
  }
}
