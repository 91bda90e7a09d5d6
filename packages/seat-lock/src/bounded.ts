import type { RedisClient } from '@boxoffice/internal';
import { CallGuard } from './call-guard.js';

const guards = new Map<number, CallGuard>();

/** Run one Redis call with a deadline (see {@link CallGuard}); failures become SeatLockRedisError. */
export function bounded<T>(
  client: RedisClient,
  operation: string,
  timeoutMs: number,
  call: () => Promise<T>,
  onLateResult?: () => void,
): Promise<T> {
  let guard = guards.get(timeoutMs);
  if (!guard) {
    guard = new CallGuard(timeoutMs);
    guards.set(timeoutMs, guard);
  }
  return guard.run(client, operation, call, onLateResult);
}
