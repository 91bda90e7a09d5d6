import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineProject, type Plugin, type UserWorkspaceConfig } from 'vitest/config';

/** Files imported as their text (Lua scripts, SQL migrations), as tsup's `text` loader does. */
export const TEXT_EXTENSIONS = ['.lua', '.sql'] as const;

/** Loads {@link TEXT_EXTENSIONS} files as their text, like the build does. */
export function filesAsText(): Plugin {
  return {
    name: 'boxoffice:files-as-text',
    transform(code, id) {
      if (!TEXT_EXTENSIONS.some((ext) => id.endsWith(ext))) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

/**
 * The vitest project config of one workspace package (`dir` is the package directory): its tests in
 * `test/`, Lua and SQL as text, and the same `__PACKAGE_VERSION__` the build defines.
 */
export function packageProject(dir: string, overrides: UserWorkspaceConfig['test'] = {}) {
  const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return defineProject({
    plugins: [filesAsText()],
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
