import {
  CallGuard,
  check,
  DEFAULT_COMMAND_TIMEOUT_MS,
  MAX_COMMAND_TIMEOUT_MS,
  type RedisClient,
  type RedisScript,
} from '@boxoffice/internal';
import { SketchLayoutError, type SketchRedisError, sketchCallErrors } from './errors.js';

/** A client and the deadline of its calls (`commandTimeoutMs`, the shared CallGuard). */
export interface Bounded {
  readonly client: RedisClient;
  readonly guard: CallGuard<SketchRedisError>;
}

/** Default of every sketch object's `commandTimeoutMs`, as in every boxoffice package. */
export const COMMAND_TIMEOUT_MS = DEFAULT_COMMAND_TIMEOUT_MS;

/** Validate `commandTimeoutMs` (named `<owner>.commandTimeoutMs`) and bound `client`'s calls with it. */
export function bounded(owner: string, client: RedisClient, commandTimeoutMs: unknown): Bounded {
  const ms = check.integer(`${owner}.commandTimeoutMs`, commandTimeoutMs, {
    min: 1,
    max: MAX_COMMAND_TIMEOUT_MS,
  });
  return { client, guard: new CallGuard(ms, sketchCallErrors) };
}

/**
 * One Redis call under the deadline: {@link SketchRedisError} of kind `timeout` past it,
 * `unavailable` at once while the client is reconnecting or closed. (A pipeline of several script
 * calls is bounded by progress instead, {@link CallGuard.pipeline}: it fails when no reply came for
 * `commandTimeoutMs`, not when the whole batch took longer.)
 */
export function call<T>(r: Bounded, operation: string, fn: () => Promise<T>): Promise<T> {
  return r.guard.run(r.client, operation, fn);
}

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
  r: Bounded,
  operation: string,
  script: RedisScript,
  calls: readonly Call[],
): Promise<unknown[]> {
  if (calls.length === 0) return [];
  if (calls.length === 1) {
    const only = calls[0] as Call;
    return [await call(r, operation, () => script.run(r.client, only.keys, only.args))];
  }
  script.register(r.client);
  const results =
    (await r.guard.pipeline(r.client, operation, (onReply) => {
      const pipeline = r.client.pipeline();
      for (const c of calls) script.queue(pipeline, c.keys, c.args, onReply);
      return pipeline.exec();
    })) ?? [];
  return results.map(([error, value]) => {
    if (error) throw sketchCallErrors.failed(operation, error);
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
  r: Bounded,
  operation: string,
  scripts: RedisScript | ((call: number) => RedisScript),
  calls: readonly Call[],
): Promise<Settled[]> {
  if (calls.length === 0) return [];
  const scriptOf = typeof scripts === 'function' ? scripts : () => scripts;
  if (calls.length === 1) {
    const only = calls[0] as Call;
    try {
      const value = await call(r, operation, () => scriptOf(0).run(r.client, only.keys, only.args));
      return [{ ok: true, value }];
    } catch (error) {
      return [{ ok: false, error: sketchCallErrors.failed(operation, error) }];
    }
  }
  for (let i = 0; i < calls.length; i++) scriptOf(i).register(r.client);
  let results: [Error | null, unknown][];
  try {
    results =
      (await r.guard.pipeline(r.client, operation, (onReply) => {
        const pipeline = r.client.pipeline();
        calls.forEach((c, i) => {
          scriptOf(i).queue(pipeline, c.keys, c.args, onReply);
        });
        return pipeline.exec();
      })) ?? [];
  } catch (error) {
    const failure = sketchCallErrors.failed(operation, error);
    return calls.map(() => ({ ok: false, error: failure }));
  }
  return calls.map((_, i) => {
    const [error, value] = results[i] ?? [new Error('no reply'), undefined];
    return error
      ? { ok: false, error: sketchCallErrors.failed(operation, error) }
      : { ok: true, value };
  });
}

/** Unwrap a `{0, ...}` / `{1, storedLayout}` script reply into its payload. */
export function payload(reply: unknown, metaKey: string, layout: string): unknown[] {
  const arr = reply as unknown[];
  if (arr[0] === 1) throw new SketchLayoutError(metaKey, layout, String(arr[1]));
  return arr.slice(1);
}
