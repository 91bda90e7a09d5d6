import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

export default defineConfig(
  packageConfig({
    entry: ['src/index.ts', 'src/testing.ts', 'src/global-setup.ts'],
    external: ['vitest', 'testcontainers'],
  }),
);
