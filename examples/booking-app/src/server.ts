import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { startRuntime } from './runtime.js';

// Entry point of `npm run demo` / `node dist/server.js`: works with nothing configured.
try {
  const runtime = await startRuntime(loadConfig());
  console.log(`boxoffice demo listening on ${runtime.url}`);
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
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
