// What npm would publish, in one place: the published packages (packages/* that are not private)
// and `pnpm pack` of all of them into a directory. Used by check-packages.mjs (attw, publint) and
// check-readme-examples.mjs (installs the tarballs into a scratch project).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root (this file is scripts/lib/pack.mjs). */
export const root = new URL('../..', import.meta.url).pathname;

/**
 * Every published package: `{ dir, filter, pkg }` with its package.json as `pkg`. Exits with a
 * message when one has no dist/ (the build has not run).
 */
export function publishedPackages() {
  const published = readdirSync(join(root, 'packages'))
    .map((name) => ({ dir: join(root, 'packages', name), filter: `./packages/${name}` }))
    .filter(({ dir }) => existsSync(join(dir, 'package.json')))
    .map((p) => ({ ...p, pkg: JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private);
  for (const { dir, pkg } of published) {
    if (!existsSync(join(dir, 'dist'))) {
      console.error(`${pkg.name}: no dist/ — build first (node scripts/setup.mjs)`);
      process.exit(1);
    }
  }
  return published;
}

/**
 * Packs `published` into `out` with one pnpm run (pnpm, not npm, replaces workspace: ranges as
 * publishing would) and returns them with `tarball`, the path of each one's .tgz. Exits with
 * pnpm's output when packing fails.
 */
export function packPublished(published, out) {
  // pnpm.mjs runs pnpm in the repository root; --filter takes paths relative to it.
  const filters = published.flatMap(({ filter }) => ['--filter', filter]);
  const packed = spawnSync(
    process.execPath,
    [join(root, 'scripts/pnpm.mjs'), '-r', ...filters, 'pack', '--pack-destination', out],
    { encoding: 'utf8' },
  );
  if (packed.status !== 0) {
    console.error(`pnpm pack failed:\n${packed.stdout}${packed.stderr}`);
    process.exit(1);
  }
  return published.map((p) => ({
    ...p,
    tarball: join(out, `${p.pkg.name.replace(/^@/, '').replace('/', '-')}-${p.pkg.version}.tgz`),
  }));
}
