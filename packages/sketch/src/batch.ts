import type { RedisClient, RedisScript } from '@boxoffice/internal';
import { failedCall, SketchLayoutError, sketchRedisError } from './errors.js';

/** One script invocation: its keys and arguments. */
export interface Call {
  keys: string[];
  args: (string | number | Buffer)[];
}

/** Items per script call: keeps each call short so Redis is never blocked for long. */
export const CHUNK = 2000;

/**
 * Run several invocations of one script in a single round trip (one pipeline); with one call, a plain
 * EVALSHA. Every call's keys must share one hash slot (ours share a hash tag). Rejects with the first
 * error, as a {@link SketchRedisError} of `operation`.
 */
export async function runAll(
  client: RedisClient,
  operation: string,
  script: RedisScript,
  calls: readonly Call[],
): Promise<unknown[]> {
  if (calls.length === 0) return [];
  if (calls.length === 1) {
    const only = calls[0] as Call;
    return [await script.run(client, only.keys, only.args).catch(failedCall(operation))];
  }
  script.register(client);
  const pipeline = client.pipeline();
  for (const call of calls) script.queue(pipeline, call.keys, call.args);
  const results = (await pipeline.exec().catch(failedCall(operation))) ?? [];
  return results.map(([error, value]) => {
    if (error) throw sketchRedisError(operation, error);
    return value;
  });
}

/** The outcome of one call of {@link runSettled}. */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Like {@link runAll} (one script, or the script of each call), but reports each call's outcome
 * instead of rejecting, so a caller can retry only the calls that failed (a pipeline can fail
 * part-way, e.g. when the connection drops). Failures are {@link SketchRedisError}s of `operation`.
 */
export async function runSettled(
  client: RedisClient,
  operation: string,
  scripts: RedisScript | ((call: number) => RedisScript),
  calls: readonly Call[],
): Promise<Settled[]> {
  if (calls.length === 0) return [];
  const scriptOf = typeof scripts === 'function' ? scripts : () => scripts;
  if (calls.length === 1) {
    const only = calls[0] as Call;
    try {
      return [{ ok: true, value: await scriptOf(0).run(client, only.keys, only.args) }];
    } catch (error) {
      return [{ ok: false, error: sketchRedisError(operation, error) }];
    }
  }
  for (let i = 0; i < calls.length; i++) scriptOf(i).register(client);
  const pipeline = client.pipeline();
  calls.forEach((call, i) => {
    scriptOf(i).queue(pipeline, call.keys, call.args);
  });
  let results: [Error | null, unknown][];
  try {
    results = (await pipeline.exec()) ?? [];
  } catch (error) {
    const failure = sketchRedisError(operation, error);
    return calls.map(() => ({ ok: false, error: failure }));
  }
  return calls.map((_, i) => {
    const [error, value] = results[i] ?? [new Error('no reply'), undefined];
    return error ? { ok: false, error: sketchRedisError(operation, error) } : { ok: true, value };
  });
}

/** Unwrap a `{0, ...}` / `{1, storedLayout}` script reply into its payload. */
export function payload(reply: unknown, metaKey: string, layout: string): unknown[] {
  const arr = reply as unknown[];
  if (arr[0] === 1) throw new SketchLayoutError(metaKey, layout, String(arr[1]));
  return arr.slice(1);
}
