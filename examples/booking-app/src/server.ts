import cluster from 'node:cluster';
import { type AppConfig, loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { startConsoleTracing } from './observability/tracing.js';
import { startRuntime } from './runtime.js';

// Entry point of `npm run demo` / `node dist/server.js`: works with nothing configured.

/** One instance in this process: listen, and stop cleanly on SIGINT/SIGTERM. */
async function serve(config: AppConfig): Promise<void> {
  if (config.tracesConsole) await startConsoleTracing();
  const runtime = await startRuntime(config);
  console.log(`boxoffice demo listening on ${runtime.url}`);
  // In a terminal, the URL also goes in its title, where the log lines cannot scroll it away.
  if (process.stdout.isTTY) process.stdout.write(`\x1b]0;boxoffice demo — ${runtime.url}\x07`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/**
 * HTTP_WORKERS > 0: this process only accepts connections (node:cluster's round robin hands each
 * to a worker) and keeps `workers` instances running: one that dies after it started listening is
 * replaced; one that dies before (a configuration or start-up error) stops everything.
 */
function supervise(workers: number): void {
  let stopping = false;
  let alive = 0;
  const listening = new Set<number>();
  const fork = () => {
    const worker = cluster.fork();
    alive++;
    worker.on('listening', () => listening.add(worker.id));
  };
  cluster.on('exit', (worker, code, signal) => {
    alive--;
    if (stopping) {
      if (alive === 0) process.exit(0);
      return;
    }
    if (!listening.has(worker.id)) process.exit(code || 1);
    console.error(`worker ${worker.process.pid} stopped (${signal ?? code}); starting another`);
    fork();
  });
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  for (let i = 0; i < workers; i++) fork();
}

try {
  const config = loadConfig();
  if (config.httpWorkers > 0 && cluster.isPrimary) supervise(config.httpWorkers);
  else await serve(config);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else if ((error as { code?: string }).code === 'EADDRINUSE') {
    console.error(`cannot listen: ${(error as Error).message} (set PORT to another port, or 0)`);
  } else {
    console.error(`cannot start: ${(error as Error).message}`);
  }
  process.exit(1);
}
