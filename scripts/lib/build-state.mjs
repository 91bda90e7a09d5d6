// Whether the workspace's build outputs are older than anything they are built from: the newest
// modification time over every package's sources and build configuration, against the oldest file
// of every package's dist/. Any change anywhere rebuilds everything (packages bundle
// @boxoffice/internal, so one package's sources can change another's output).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const workspaceRoot = new URL('../..', import.meta.url).pathname;
const INPUTS = ['src', 'lua', 'package.json', 'tsup.config.ts', 'tsconfig.json'];

function* files(path) {
  if (!existsSync(path)) return;
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    yield { path, mtimeMs: stat.mtimeMs };
    return;
  }
  for (const entry of readdirSync(path)) yield* files(join(path, entry));
}

/** The workspace packages (dirs under packages/ and examples/) and whether each has a build. */
function workspacePackages(root) {
  const dirs = [];
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      const manifest = join(dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const { scripts = {} } = JSON.parse(readFileSync(manifest, 'utf8'));
      dirs.push({ dir, builds: Boolean(scripts.build) });
    }
  }
  return dirs;
}

/**
 * True when every built package of the workspace at `root` has a dist/ newer than every workspace
 * source and the lockfile, and node_modules was installed.
 */
export function buildIsCurrent(root = workspaceRoot) {
  const packages = workspacePackages(root);
  let newestInput = statSync(join(root, 'pnpm-lock.yaml')).mtimeMs;
  for (const { dir } of packages) {
    for (const input of INPUTS) {
      for (const f of files(join(dir, input))) newestInput = Math.max(newestInput, f.mtimeMs);
    }
  }
  for (const { dir, builds } of packages) {
    if (!builds) continue;
    let oldestOutput = Number.POSITIVE_INFINITY;
    for (const f of files(join(dir, 'dist'))) oldestOutput = Math.min(oldestOutput, f.mtimeMs);
    if (!(oldestOutput > newestInput)) return false;
  }
  return existsSync(join(root, 'node_modules', '.modules.yaml'));
}
