import { configDefaults } from 'vitest/config';
import { packageProject } from '../../config/vitest.js';

// The chaos suites (test/chaos: Redis restarts, killed workers, a failing gateway, clock skew) run in
// `npm run test:chaos` and `npm run test:stress`, which set BOXOFFICE_CHAOS=1, and as their own step
// of .ci/run — not in `npm test`, which must stay under 10 minutes on a 2-core machine.
export default packageProject(
  import.meta.dirname,
  process.env.BOXOFFICE_CHAOS === '1'
    ? {}
    : { exclude: [...configDefaults.exclude, 'test/chaos/**'] },
);
