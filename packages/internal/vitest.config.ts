import { packageProject } from '../../config/vitest.js';

export default packageProject(import.meta.dirname);
