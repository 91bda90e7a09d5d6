import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Checks what a user of the published packages gets: the built files, resolved by Node itself (not
// by vite), through the `exports` map, from both ESM and CommonJS. Needs the build (`npm test` does it).
const packagesDir = join(import.meta.dirname, '..', 'packages');
const published = readdirSync(packagesDir)
  .map((dir) => ({
    dir: join(packagesDir, dir),
    pkg: JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')),
  }))
  .filter(({ pkg }) => !pkg.private);
// A placeholder until the repository is public; every package names the same one.
const repositoryUrl = 'https://github.com/boxoffice/boxoffice';
const rootLicensePath = join(packagesDir, '..', 'LICENSE');
const rootLicense = existsSync(rootLicensePath) ? readFileSync(rootLicensePath, 'utf8') : '(none)';

it('the repository is MIT-licensed, as package.json says', () => {
  const root = JSON.parse(readFileSync(join(packagesDir, '..', 'package.json'), 'utf8'));
  expect(root.license).toBe('MIT');
  expect(rootLicense).toMatch(/^MIT License\n\nCopyright \(c\) 2026 boxoffice contributors\n/);
});

describe.each(published)('$pkg.name', ({ dir, pkg }) => {
  it('declares a dual ESM/CJS exports map whose files exist', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'LICENSE', 'CHANGELOG.md']);
    expect(pkg.engines?.node).toBeTruthy();
    expect(pkg.peerDependencies?.ioredis).toBeTruthy();
    // Each condition carries its own types, first: `import` the ESM .d.ts, `require` the CJS
    // .d.cts. One `types` for both made CommonJS consumers read ESM types ("Masquerading as ESM").
    expect(pkg.exports['.']).toEqual({
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    });
    for (const entry of Object.values<Record<string, string>>(pkg.exports['.'])) {
      expect(Object.keys(entry)[0]).toBe('types');
      for (const file of Object.values(entry)) {
        expect(existsSync(join(dir, file)), `${pkg.name}: ${file} (run the build)`).toBe(true);
      }
    }
    // The legacy fields (resolvers without `exports`) agree with the map: main is CommonJS.
    expect(pkg.main).toBe(pkg.exports['.'].require.default);
    expect(pkg.types).toBe(pkg.exports['.'].require.types);
    expect(pkg.module).toBe(pkg.exports['.'].import.default);
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });

  it('carries the license and says where it comes from', () => {
    // The repository's LICENSE, copied so that any packer (npm too, not only pnpm) ships it.
    expect(existsSync(join(dir, 'LICENSE')), `${pkg.name}: LICENSE`).toBe(true);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(rootLicense);
    expect(pkg.license).toBe('MIT');
    const name = dir.slice(packagesDir.length + 1);
    expect(pkg.repository).toEqual({
      type: 'git',
      url: `git+${repositoryUrl}.git`,
      directory: `packages/${name}`,
    });
    expect(pkg.homepage).toBe(`${repositoryUrl}/tree/main/packages/${name}#readme`);
    expect(pkg.bugs).toEqual({ url: `${repositoryUrl}/issues` });
    expect(pkg.publishConfig).toEqual({ access: 'public' });
  });

  it('keeps a changelog with an Unreleased section and a migration note for breaking changes', () => {
    const path = join(dir, 'CHANGELOG.md');
    expect(existsSync(path), `${pkg.name}: CHANGELOG.md`).toBe(true);
    const changelog = readFileSync(path, 'utf8');
    expect(changelog).toMatch(/^# Changelog\n/);
    expect(changelog).toContain('\n## Unreleased\n');
    expect(changelog).toContain(`\n## ${pkg.version}\n`);
    // Every breaking entry comes with how to migrate (the root README's Versioning rule).
    if (changelog.includes('**Breaking')) expect(changelog).toContain('\n### Migrating from ');
  });

  it('bundles @boxoffice/internal instead of importing it (it is never published)', () => {
    const dist = join(dir, 'dist');
    for (const file of readdirSync(dist).filter((f) => /\.(c?js|d\.c?ts)$/.test(f))) {
      const code = readFileSync(join(dist, file), 'utf8');
      expect(code.includes('@boxoffice/internal'), `${pkg.name}/dist/${file}`).toBe(false);
      // Every relative import in the output must point at a file that exists; in a declaration
      // file, `./x.cjs` (or `./x.js`) names the declarations `./x.d.cts` (`./x.d.ts`).
      const declarations = /\.d\.c?ts$/.test(file);
      for (const [, target] of code.matchAll(/from ['"](\.\/[^'"]+)['"]/g)) {
        const path = declarations
          ? (target as string).replace(/\.(c?)js$/, '.d.$1ts')
          : (target as string);
        expect(existsSync(join(dist, path)), `${file} imports ${target}`).toBe(true);
      }
    }
  });

  it('declares every module its types import, and where those types come from', () => {
    // A consumer type-checking libraries (skipLibCheck off) must be able to resolve each bare
    // import in our declarations: the module is a dependency or a peer, and when its types come
    // from DefinitelyTyped (@types/x among our devDependencies) so is @types/x, optional alike.
    const code = readFileSync(join(dir, 'dist', 'index.d.ts'), 'utf8');
    const imported = new Set(
      [...code.matchAll(/from ['"]([^'"./][^'"]*)['"]/g)]
        .map(([, spec]) => spec as string)
        .filter((spec) => !spec.startsWith('node:'))
        .map((spec) =>
          spec
            .split('/')
            .slice(0, spec.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    );
    const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
    const optional = (name: string) => pkg.peerDependenciesMeta?.[name]?.optional === true;
    for (const name of imported) {
      expect(declared[name], `${pkg.name}'s types import ${name}`).toBeTruthy();
      const types = `@types/${name.replace(/^@/, '').replace('/', '__')}`;
      if (!pkg.devDependencies?.[types]) continue;
      expect(declared[types], `${pkg.name}'s types import ${name}: declare ${types}`).toBeTruthy();
      expect(optional(types), `${types} optional like ${name}`).toBe(optional(name));
    }
  });

  it('loads through Node from import and from require, with its version baked in', () => {
    // Self-reference by package name from the package's own directory resolves through `exports`.
    const script = `
      import { createRequire } from 'node:module';
      const esm = await import(${JSON.stringify(pkg.name)});
      const cjs = createRequire(import.meta.url)(${JSON.stringify(pkg.name)});
      process.stdout.write(JSON.stringify([esm.VERSION, cjs.VERSION]));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([pkg.version, pkg.version]);
  });
});
