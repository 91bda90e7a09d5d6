import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Options } from 'tsup';

/**
 * The one tsup configuration every workspace package builds with: ESM + CJS + `.d.ts`, Lua files
 * bundled as text, and `__PACKAGE_VERSION__` replaced by the package's version (used to suffix
 * Redis script names so two installed versions never share a script name).
 */
export function packageConfig(overrides: Partial<Options> = {}): Options {
  // tsup runs in the package directory (pnpm runs each package's script there).
  const { version } = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    // @boxoffice/internal is private: its code and its types are bundled into every package. The
    // .d.ts bundler inlines it only when it resolves to a path outside node_modules, hence `paths`.
    dts: {
      compilerOptions: {
        paths: {
          '@boxoffice/internal': [resolve(process.cwd(), '../../packages/internal/src/index.ts')],
        },
      },
    },
    noExternal: [/^@boxoffice\/internal/],
    clean: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    loader: { '.lua': 'text', '.sql': 'text' },
    define: { __PACKAGE_VERSION__: JSON.stringify(version) },
    ...overrides,
  };
}
