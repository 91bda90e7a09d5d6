// Where a run's Redis commands go, by the part of the app that sent them: opt-in with
// BENCH_LOAD_REDIS_MONITOR=<file prefix>, because Redis MONITOR slows Redis and fills a file
// (~35 MB for the 10,000-user run). INFO commandstats counts commands by name only; MONITOR also
// shows the commands a Lua script runs, each with its key, which says whose it is.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, openSync, readFileSync } from 'node:fs';
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

/**
 * The waiters' own visits (join, heartbeat, status: the waiting room's visit.lua, every command it
 * runs): what waiting costs, as against selling. A script is known by its text, which MONITOR
 * shows once per fresh Redis (ioredis' EVAL or SCRIPT LOAD before its EVALSHAs); visit.lua's text
 * starts with its header line.
 */
export const VISITS = "waiting room: the waiters' visits (join, heartbeat, status)";
const VISIT_HEADER = readFileSync(
  new URL('../../packages/queue/src/lua/visit.lua', import.meta.url),
  'utf8',
).split('\n', 1)[0] as string;

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

  /**
   * Commands run from `fromMs` to `toMs` (Redis' clock, this machine's), per family; the commands
   * of a visit.lua call (its EVALSHA and what it runs, which MONITOR lists right after) are
   * {@link VISITS}.
   */
  async families(fromMs: number, toMs: number): Promise<Map<string, number>> {
    this.stop();
    const counts = new Map<string, number>();
    const visitShas = new Set<string>();
    let inVisit = false;
    const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
    for await (const line of lines) {
      const m = LINE.exec(line);
      if (!m) continue;
      const args = [...(m[4] as string).matchAll(ARG)].map((a) => monitorBytes(a[1] as string));
      const fromScript = m[3] === 'lua';
      const command = (args[0] ?? '').toLowerCase();
      const body = command === 'eval' ? args[1] : command === 'script' ? args[2] : undefined;
      const visitBody = body?.includes(VISIT_HEADER) === true;
      if (visitBody) visitShas.add(sha1(body as string));
      if (!fromScript) {
        inVisit =
          (command === 'eval' && visitBody) ||
          (command === 'evalsha' && visitShas.has(args[1] ?? ''));
      }
      const atMs = Number(m[1]) * 1000 + Number(m[2]) / 1000;
      if (atMs < fromMs || atMs > toMs) continue;
      const family = inVisit ? VISITS : familyOf(fromScript, args);
      counts.set(family, (counts.get(family) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * Print the sale phase's commands per sold seat, by family (largest first); returns the figure
   * outside waiting (all but {@link VISITS}).
   */
  async printSale(fromMs: number, toMs: number, sold: number): Promise<number> {
    const counts = [...(await this.families(fromMs, toMs))].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const visits = counts.find(([family]) => family === VISITS)?.[1] ?? 0;
    const perSeat = (n: number) => (sold > 0 ? n / sold : 0);
    const shown = (n: number) => perSeat(n).toFixed(1).padStart(6);
    console.log(
      `Redis commands per sold seat in the sale phase, by family (MONITOR, ${this.file}):`,
    );
    for (const [family, n] of counts) console.log(`  ${shown(n)}  ${family}`);
    console.log(`  ${shown(total)}  all`);
    console.log(`  ${shown(total - visits)}  all but the waiters' visits`);
    return perSeat(total - visits);
  }
}

/** The SHA-1 of a script body as {@link monitorBytes} gives it (one character per byte). */
function sha1(bytes: string): string {
  return createHash('sha1').update(Buffer.from(bytes, 'latin1')).digest('hex');
}

/**
 * A MONITOR argument's bytes, one character per byte: MONITOR escapes `"`, `\\`, `\n`, `\r`,
 * `\t`, `\a`, `\b` and writes every other unprintable byte (UTF-8 included) as `\xHH`.
 */
function monitorBytes(arg: string): string {
  return arg.replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) =>
    e.length === 3
      ? String.fromCharCode(Number.parseInt(e.slice(1), 16))
      : (({ n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' } as Record<string, string>)[e] ?? e),
  );
}
