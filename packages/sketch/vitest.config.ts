import { packageProject } from '../../config/vitest.js';

// The root's testTimeout is not inherited by projects (they get vitest's 5 s); the 1,000,000-event
// tests need more on a loaded machine.
export default packageProject(import.meta.dirname, { testTimeout: 60_000 });
