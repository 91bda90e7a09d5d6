import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

// An application, not a library: one ESM entry to run with node, no type declarations.
export default defineConfig(
  packageConfig({ entry: ['src/server.ts'], format: ['esm'], dts: false }),
);
