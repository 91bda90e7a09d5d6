import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisProcessError } from './errors.js';
import { answersPing, waitFor } from './probe.js';

/** A `redis-server` (or `redis-sentinel`) this process started; killed by `stop()` or on exit. */
export interface RedisProcess {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** The temporary working directory (removed by `stop()`). */
  readonly dir: string;
  readonly pid: number;
  /** SIGKILL the process (as a crash would) without removing its directory; see `restart()`. */
  kill(): Promise<void>;
  /** Start it again on the same port and directory after `kill()`. */
  restart(): Promise<void>;
  /** Stop the process and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** Binary to run. @defaultValue 'redis-server' */
  bin?: string;
  host?: string;
  port: number;
  /** Extra command-line arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: readonly string[];
  /**
   * Text of a config file written into the process's directory and passed first. Sentinel needs
   * one (it rewrites it with what it learns).
   */
  config?: string;
  /** `'sentinel'` runs `redis-server <config> --sentinel`. @defaultValue 'server' */
  mode?: 'server' | 'sentinel';
  /** How long to wait for the first PONG. @defaultValue 10_000 */
  startTimeoutMs?: number;
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooksInstalled = false;

function killAllSync(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

// Spawned servers must not outlive the process that started them: clean up on a normal exit and on
// the usual termination signals (re-raising the signal afterwards so the exit status is unchanged).
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** True when `bin` can be executed from PATH. */
export function hasBinary(bin: string): boolean {
  const result = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/** Start a Redis process in a fresh temporary directory, with persistence off, and wait for PONG. */
export async function spawnRedis(options: SpawnOptions): Promise<RedisProcess> {
  const bin = options.bin ?? 'redis-server';
  const host = options.host ?? '127.0.0.1';
  const { port } = options;
  const url = `redis://${host}:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'boxoffice-redis-'));
  dirs.add(dir);
  installExitHooks();

  const head: string[] = [];
  if (options.config !== undefined || options.mode === 'sentinel') {
    const file = join(dir, options.mode === 'sentinel' ? 'sentinel.conf' : 'redis.conf');
    writeFileSync(file, options.config ?? '');
    head.push(file);
  }
  if (options.mode === 'sentinel') head.push('--sentinel');
  const args = [
    ...head,
    '--port',
    String(port),
    '--bind',
    host,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.args ?? []),
  ];
  const command = `${bin} ${args.join(' ')}`;
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    const proc = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.stdout?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-8_000);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-8_000);
    });
    const exited = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        live.delete(proc);
        resolve();
      }),
    );
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
    const ready = waitFor(() => answersPing(url, 500), options.startTimeoutMs ?? 10_000);
    const outcome = await Promise.race([
      ready.then((ok) => (ok ? 'ready' : 'timeout')),
      exited.then(() => 'exited' as const),
      spawnError.then((e) => e),
    ]);
    if (outcome === 'ready') return;
    proc.kill('SIGKILL');
    const why =
      outcome instanceof Error
        ? `could not run ${bin}: ${outcome.message}`
        : outcome === 'exited'
          ? `${bin} exited during start`
          : `${bin} did not answer PING in time`;
    throw new RedisProcessError(why, command, output);
  };

  const killNow = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };

  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    dirs.delete(dir);
    throw error;
  }

  return {
    host,
    port,
    url,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    kill: killNow,
    restart: start,
    async stop() {
      await killNow();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}
