import { defineConfig } from 'vitest/config';
import TotalsReporter from './config/totals-reporter.js';

export default defineConfig({
  test: {
    // One standalone Redis and one 3-master Cluster for the whole run (see packages/local-redis).
    globalSetup: ['./packages/local-redis/src/global-setup.ts'],
    projects: [
      'packages/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'test/vitest.config.ts',
    ],
    // CI logs list every test (and so every target it ran on); locally the compact summary.
    reporters: [process.env.CI ? 'verbose' : 'default', new TotalsReporter()],
    // Timeouts are set per project in config/vitest.ts (projects do not inherit them from here).
  },
});
