import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'repo', root: import.meta.dirname, include: ['**/*.test.ts'] },
});
