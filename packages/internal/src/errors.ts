// The error scheme every package follows (ARCHITECTURE.md, "Errors"): a base class per package with
// a stable `code`, a Redis-failure class carrying a `kind`, `name` set one way (a class field,
// `override name = 'ClassName'`), and one wording for a client that is not an ioredis client. What
// is code lives here once: the classification of ioredis failures, the client check, and the bodies
// of the base class (`CodedError`) and of the Redis-failure class (`redisFailureError`).

import { show } from './validate.js';

/**
 * Why a Redis call failed:
 * - `unavailable`: Redis was not reached or not serving (connection refused or closed, offline
 *   queue disabled, retries exhausted, Cluster down, a replica still loading);
 * - `timeout`: no answer within the deadline;
 * - `script`: Redis answered with an error (a script or command error: a bug, not an outage);
 * - `quorum`: too few of several Redis masters answered (Redlock);
 * - `other`: anything else.
 */
export type RedisFailureKind = 'unavailable' | 'timeout' | 'script' | 'quorum' | 'other';

/** Every {@link RedisFailureKind}, e.g. to validate or list them. */
export const REDIS_FAILURE_KINDS: readonly RedisFailureKind[] = Object.freeze([
  'unavailable',
  'timeout',
  'script',
  'quorum',
  'other',
]);

// Error replies whose first word means "this server cannot serve now", not "your command is wrong".
const UNAVAILABLE_REPLIES = new Set([
  'LOADING',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'TRYAGAIN',
  'READONLY',
  'NOREPLICAS',
  'BUSY',
]);

// Errors ioredis raises by class when it cannot reach Redis. (Not `AbortError`: an aborted signal's
// DOMException has that name too; ioredis' own aborts are matched by their messages below.)
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

// System error codes of a socket that cannot reach Redis or lost it.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

// ioredis rejects these with a plain `Error`: its fixed messages are the only thing that tells them
// apart (the constants of ioredis 5 and 6, matched whole, not patterns).
const UNAVAILABLE_MESSAGES = new Set([
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'None of startup nodes is available',
  'Failed to refresh slots cache.',
  'Command aborted due to connection close',
  'connect ETIMEDOUT',
  "Cluster isn't ready and enableOfflineQueue options is false",
  'Cluster is disconnected.',
  'Cluster is disconnecting.',
  'Cluster is ended.',
  'Node is disconnected',
]);
const TIMEOUT_MESSAGE = 'Command timed out';

/**
 * The {@link RedisFailureKind} of an error ioredis raised, or `undefined` when `error` is not
 * recognisably a Redis failure (so an unrelated bug is never taken for an outage). An error that
 * already carries a valid `kind` (a package's Redis-failure error) keeps it.
 *
 * @example
 * const kind = redisFailureKind(await redis.get('k').catch((e) => e)); // 'unavailable' when down
 */
export function redisFailureKind(error: unknown): RedisFailureKind | undefined {
  if (!(error instanceof Error)) return undefined;
  const e = error as Error & { code?: unknown; kind?: unknown };
  if (typeof e.kind === 'string' && (REDIS_FAILURE_KINDS as readonly string[]).includes(e.kind)) {
    return e.kind as RedisFailureKind;
  }
  if (e.name === 'ReplyError') {
    const word = e.message.split(' ', 1)[0] ?? '';
    return UNAVAILABLE_REPLIES.has(word) ? 'unavailable' : 'script';
  }
  if (UNAVAILABLE_NAMES.has(e.name)) return 'unavailable';
  if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return 'unavailable';
  if (e.message === TIMEOUT_MESSAGE) return 'timeout';
  if (UNAVAILABLE_MESSAGES.has(e.message)) return 'unavailable';
  return undefined;
}

/**
 * The {@link RedisFailureKind} of an error a Redis call rejected with: as {@link redisFailureKind},
 * and `unavailable` for anything else, since a call that failed without an error reply from Redis
 * did not reach it.
 */
export function callFailureKind(error: unknown): RedisFailureKind {
  return redisFailureKind(error) ?? 'unavailable';
}

/** True for a kind that means "Redis cannot serve now, retry later": `unavailable`, `timeout`, `quorum`. */
export function isRedisOutage(kind: RedisFailureKind | undefined): boolean {
  return kind === 'unavailable' || kind === 'timeout' || kind === 'quorum';
}

/** The message of an error of any shape, for wrapping it. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The `TypeError` every package throws for a client that is not an ioredis `Redis` or `Cluster`,
 * with the same wording everywhere: `<name> must be an ioredis Redis or Cluster, got <value>`.
 */
export function wrongClientError(name: string, value: unknown): TypeError {
  return new TypeError(`${name} must be an ioredis Redis or Cluster, got ${show(value)}`);
}

/**
 * True when `value` looks like an ioredis `Redis` or `Cluster`: an object that can define Lua
 * commands and duplicate itself (what every package needs of its client).
 */
export function isIoredisClient(value: unknown): boolean {
  const v = value as { defineCommand?: unknown; duplicate?: unknown } | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.defineCommand === 'function' &&
    typeof v.duplicate === 'function'
  );
}

/**
 * Check a constructor's client argument: returns it when {@link isIoredisClient}, else throws
 * {@link wrongClientError} naming the parameter.
 */
export function ioredisClient<T>(name: string, value: T): T {
  if (!isIoredisClient(value)) throw wrongClientError(name, value);
  return value;
}

/** A package's Redis-failure error class: `new (operation, kind, message, cause)`. */
export type RedisErrorClass<E extends Error> = new (
  operation: string,
  kind: RedisFailureKind,
  message: string,
  cause?: unknown,
) => E;

/**
 * The package's typed error for what a Redis call of `operation` rejected with (`kind` from
 * {@link callFailureKind}, the ioredis error as `cause`); one of its own passes through unchanged.
 */
export function redisCallError<E extends Error>(
  Type: RedisErrorClass<E>,
  operation: string,
  error: unknown,
): E {
  if (error instanceof Type) return error;
  return new Type(operation, callFailureKind(error), messageOf(error), error);
}

/**
 * What every package's base error class (`QueueError`, `SeatLockError`, `IdempotencyError`,
 * `SketchError`) extends: a stable `code` beside the message. Each package's classes set their own
 * `name` (a class field, never `constructor.name`: a bundler may rename classes).
 */
export class CodedError extends Error {
  /** A stable machine-readable code: callers match it (or `instanceof`), never the message. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** A package's base error class (a {@link CodedError}), as {@link redisFailureError} extends it. */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base class takes any arguments
export type CodedErrorClass = abstract new (...args: any[]) => CodedError;

/**
 * The class {@link redisFailureError} returns, a subclass of the package's base class `B` with its
 * static members: `new (operation, kind, message, cause?)`, code `REDIS_FAILURE`, the message
 * prefixed with the operation, the ioredis error as `cause`. Its instances carry `kind` and
 * `operation`, which the package's class declares with its own documentation.
 */
export type RedisFailureClass<B extends CodedErrorClass> = Omit<B, 'prototype'> & {
  new (
    operation: string,
    kind: RedisFailureKind,
    message: string,
    cause?: unknown,
  ): InstanceType<B>;
  readonly prototype: InstanceType<B>;
};

/**
 * The body of every package's Redis-failure error, written once. A package declares its own
 * exported class on it, so that `instanceof` its base class holds and its name and documentation
 * are its own:
 *
 * @example
 * export class QueueRedisError extends redisFailureError(QueueError) {
 *   override name = 'QueueRedisError';
 *   declare readonly kind: RedisFailureKind;
 *   declare readonly operation: string;
 * }
 */
export function redisFailureError<B extends CodedErrorClass>(Base: B): RedisFailureClass<B> {
  abstract class RedisFailure extends Base {
    readonly kind: RedisFailureKind;
    readonly operation: string;
    // A mixin's constructor must take `...any[]`; RedisFailureClass gives it its real signature.
    // biome-ignore lint/suspicious/noExplicitAny: see above
    constructor(...args: any[]) {
      const [operation, kind, message, cause] = args as [string, RedisFailureKind, string, unknown];
      super('REDIS_FAILURE', `${operation}: ${message}`, cause === undefined ? {} : { cause });
      this.kind = kind;
      this.operation = operation;
    }
  }
  return RedisFailure as unknown as RedisFailureClass<B>;
}
