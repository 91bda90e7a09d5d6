import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineProject, type Plugin, type UserWorkspaceConfig } from 'vitest/config';

/** Loads `*.lua` files as their text, like tsup's `loader: { '.lua': 'text' }` does in the build. */
export function luaAsText(): Plugin {
  return {
    name: 'boxoffice:lua-as-text',
    transform(code, id) {
      if (!id.endsWith('.lua')) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

/**
 * The vitest project config of one workspace package (`dir` is the package directory): its tests in
 * `test/`, Lua as text, and the same `__PACKAGE_VERSION__` the build defines.
 */
export function packageProject(dir: string, overrides: UserWorkspaceConfig['test'] = {}) {
  const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return defineProject({
    plugins: [luaAsText()],
    define: { __PACKAGE_VERSION__: JSON.stringify(version) },
    test: {
      name,
      root: dir,
      include: ['test/**/*.test.ts'],
      // Projects do not inherit the root's timeouts. Redis-backed tests are I/O bound; generous
      // limits avoid flakes on a loaded 2-core machine without hiding hangs (they still fail).
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}
