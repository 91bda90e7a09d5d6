#!/usr/bin/env node
// Runs the pinned pnpm (package.json "packageManager") through npx, so a machine with only Node and
// npm needs nothing else. Arguments are passed through unchanged.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const { packageManager } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const result = spawnSync(npx, ['-y', packageManager, ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: new URL('.', root).pathname,
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
