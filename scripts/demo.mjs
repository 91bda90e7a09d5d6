#!/usr/bin/env node
// `npm run demo`: install and build only when something changed since the last build (a second start
// answers in seconds), then run the reference app in this process group. Ctrl-C reaches the server
// (it stops cleanly) and this script exits with the server's status, without a package manager's
// "command failed" in between.
import { spawn, spawnSync } from 'node:child_process';
import { buildIsCurrent } from './lib/build-state.mjs';

const root = new URL('..', import.meta.url).pathname;

if (buildIsCurrent()) {
  console.log('demo: install and build are up to date (`npm run setup` redoes them)');
} else {
  const setup = spawnSync(process.execPath, [new URL('./setup.mjs', import.meta.url).pathname], {
    stdio: 'inherit',
  });
  if (setup.status !== 0) process.exit(setup.status ?? 1);
}

const server = spawn(process.execPath, ['dist/server.js'], {
  cwd: `${root}examples/booking-app`,
  stdio: 'inherit',
});
// The terminal sends Ctrl-C to the whole process group: the server gets it itself. Wait for it.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (signal === 'SIGTERM') server.kill('SIGTERM');
    stopping = true;
  });
}
server.on('exit', (code, signal) => {
  process.exit(code ?? (stopping || signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1));
});
