import type { AppConfig } from '../config.js';
import type { Database } from './database.js';
import { PgDatabase } from './pg-database.js';
import { PgliteDatabase } from './pglite-database.js';

/** `pg` when `DATABASE_URL` is set, else embedded PGlite (in memory unless `PGLITE_DATA_DIR`). */
export function openDatabase(config: AppConfig['database']): Promise<Database> {
  if (config.url) {
    return PgDatabase.open({ url: config.url, schema: config.schema, poolMax: config.poolMax });
  }
  return PgliteDatabase.open({ dataDir: config.pgliteDataDir, schema: config.schema });
}
