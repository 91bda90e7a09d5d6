import type { Database } from './database.js';
import core from './migrations/001_core.sql';
import mockGateway from './migrations/002_mock_payment_gateway.sql';
import outbox from './migrations/003_outbox.sql';
import outboxPrune from './migrations/004_outbox_prune.sql';
import outboxDeliveries from './migrations/005_outbox_deliveries.sql';
import productOrderLimit from './migrations/006_product_order_limit.sql';
import oneRoundTrip from './migrations/007_one_round_trip.sql';
import reserveSeats from './migrations/008_reserve_seats.sql';

/** One forward-only migration. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration, in order. Add a file in `migrations/` and list it here. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'core', sql: core },
  { version: 2, name: 'mock_payment_gateway', sql: mockGateway },
  { version: 3, name: 'outbox', sql: outbox },
  { version: 4, name: 'outbox_prune', sql: outboxPrune },
  { version: 5, name: 'outbox_deliveries', sql: outboxDeliveries },
  { version: 6, name: 'product_order_limit', sql: productOrderLimit },
  { version: 7, name: 'one_round_trip', sql: oneRoundTrip },
  { version: 8, name: 'reserve_seats', sql: reserveSeats },
]);

// Any constant shared by every instance: the advisory lock serialises concurrent migrators.
const MIGRATION_LOCK = 7_270_001;

/**
 * Apply the migrations `db` has not seen yet, each in its own transaction, and return the versions
 * applied. Safe when several app instances start at once: a transaction-scoped advisory lock
 * (per schema) makes them take turns, and each re-reads what is applied after getting the lock.
 */
export async function migrate(
  db: Database,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [
        MIGRATION_LOCK,
      ]);
      await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version     integer PRIMARY KEY,
        name        text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [
        migration.version,
      ]);
      if (seen.rowCount > 0) return false;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
