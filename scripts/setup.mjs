#!/usr/bin/env node
// Install (from the committed lockfile) and build every workspace package, in dependency order.
// Used by `npm test` and `npm run demo` so both work on a fresh clone with only Node and npm.
import { spawnSync } from 'node:child_process';

const pnpm = new URL('./pnpm.mjs', import.meta.url).pathname;

function run(args) {
  const result = spawnSync(process.execPath, [pnpm, ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run(['install', '--frozen-lockfile', '--reporter=append-only']);
run(['-r', 'run', 'build']);
