import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

// The built server, as `npm run demo` runs it (`npm test` builds first).
export const serverJs = join(import.meta.dirname, '..', 'dist', 'server.js');
export const children: ChildProcess[] = [];
/** Kill every server a test started and left running (register with `afterEach`). */
export function killServers(): void {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
}

/**
 * Start `dist/server.js` with `env` (PORT 0) and wait for the URL it prints. `nodeArgs` go before
 * the script (e.g. `['--import', preload]`).
 */
export function start(
  env: Record<string, string>,
  options: { nodeArgs?: readonly string[] } = {},
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), serverJs], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1] as string, output: () => output });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

/** Resolves with the exit code once `child` has exited. */
export const stopped = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
