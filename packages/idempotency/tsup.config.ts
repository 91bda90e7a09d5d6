import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

// Two entries; `splitting` gives both formats one shared chunk, so the store class that
// `@boxoffice/idempotency/fastify` checks options against is the one users import from the root.
export default defineConfig(
  packageConfig({ entry: ['src/index.ts', 'src/fastify.ts'], splitting: true }),
);
