import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

export default defineConfig(
  packageConfig({
    entry: ['src/index.ts', 'src/fastify.ts'],
    // Both entries share the error classes: in CommonJS too they must be one copy (a chunk), or
    // the Fastify hook's `instanceof AccessTokenError` would miss the errors `AccessTokens` throws.
    splitting: true,
  }),
);
