import { defineConfig } from 'tsup';
import { packageConfig } from '../../config/tsup.js';

export default defineConfig(packageConfig());
