import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { buildIsCurrent } from '../scripts/lib/build-state.mjs';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A workspace with one built package and one without a build, every file at time `t` (s). */
function workspace(t: number): { root: string; at(path: string, time: number): void } {
  const root = mkdtempSync(join(tmpdir(), 'build-state-'));
  made.push(root);
  const write = (path: string, text = '') => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
    utimesSync(join(root, path), t, t);
  };
  write('pnpm-lock.yaml');
  write('node_modules/.modules.yaml');
  write('packages/a/package.json', JSON.stringify({ scripts: { build: 'tsup' } }));
  write('packages/a/src/index.ts');
  write('packages/a/dist/index.js');
  write('packages/internal/package.json', JSON.stringify({}));
  write('packages/internal/src/index.ts');
  write('examples/app/package.json', JSON.stringify({ scripts: { build: 'tsup' } }));
  write('examples/app/src/server.ts');
  write('examples/app/dist/server.js');
  return { root, at: (path, time) => utimesSync(join(root, path), time, time) };
}

describe("the demo's up-to-date check (scripts/lib/build-state.mjs)", () => {
  it('is current only while every dist/ is newer than every source, config and the lockfile', () => {
    const w = workspace(1000);
    w.at('packages/a/dist/index.js', 2000);
    w.at('examples/app/dist/server.js', 2000);
    expect(buildIsCurrent(w.root)).toBe(true);
    // A source of a package without a build of its own (bundled into the others) changed.
    w.at('packages/internal/src/index.ts', 3000);
    expect(buildIsCurrent(w.root)).toBe(false);
    w.at('packages/internal/src/index.ts', 1000);
    w.at('pnpm-lock.yaml', 3000);
    expect(buildIsCurrent(w.root)).toBe(false);
    w.at('pnpm-lock.yaml', 1000);
    w.at('examples/app/package.json', 3000);
    expect(buildIsCurrent(w.root)).toBe(false);
  });

  it('is not current without a dist/ or without node_modules', () => {
    const w = workspace(1000);
    w.at('packages/a/dist/index.js', 2000);
    expect(buildIsCurrent(w.root)).toBe(false); // examples/app/dist is as old as its sources
    w.at('examples/app/dist/server.js', 2000);
    expect(buildIsCurrent(w.root)).toBe(true);
    rmSync(join(w.root, 'node_modules'), { recursive: true });
    expect(buildIsCurrent(w.root)).toBe(false);
    rmSync(join(w.root, 'examples/app/dist'), { recursive: true });
    expect(buildIsCurrent(w.root)).toBe(false);
  });
});
