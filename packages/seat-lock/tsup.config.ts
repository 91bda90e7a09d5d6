import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

export default defineConfig(
  packageConfig({
    // `@boxoffice/seat-lock/holds` is its own entry so that the main one never loads bullmq.
    entry: ['src/index.ts', 'src/holds.ts'],
    // Shared chunks in CJS too (tsup splits only ESM by default): each entry bundling its own copy
    // would make two SeatLock and SeatLockError classes, and `instanceof` fail across entries.
    splitting: true,
  }),
);
