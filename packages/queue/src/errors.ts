import type { RedisFailureKind } from '@boxoffice/internal';
import { CodedError, callErrors, redisFailureError } from '@boxoffice/internal';

export type { RedisFailureKind } from '@boxoffice/internal';

/** Base class of every error this package throws on purpose. */
export class QueueError extends CodedError {
  override name = 'QueueError';
}

/**
 * Redis failed during a room operation: not reachable (`kind: 'unavailable'`), no answer in time
 * (`'timeout'`: nothing within the room's `commandTimeoutMs`, or ioredis' own `commandTimeout`), an error reply (`'script'`: a bug, not an outage).
 * `cause` holds the ioredis error. Distinct from {@link QueueClosedError} and the token errors.
 */
export class QueueRedisError extends redisFailureError(QueueError) {
  override name = 'QueueRedisError';
  /** Why Redis failed. */
  declare readonly kind: RedisFailureKind;
  /** The operation that failed, e.g. `visit` (join/status/heartbeat), `leave`, `tick`, `subscribe`. */
  declare readonly operation: string;
}

/** How the shared CallGuard words the package's failures: {@link QueueRedisError}s. @internal */
export const queueCallErrors = callErrors(QueueRedisError, QueueError);

/** A `catch` handler rethrowing a Redis call's rejection as {@link QueueRedisError}. @internal */
export const failedCall =
  (operation: string) =>
  (error: unknown): never => {
    throw queueCallErrors.failed(operation, error);
  };

/** `join()` on a room that was closed (`room.close()`), or whose pre-queue has not opened yet. */
export class QueueClosedError extends QueueError {
  override name = 'QueueClosedError';
  /** The room. */
  readonly roomId: string;
  /** `'closed'` after `close()`; `'not-open'` before `preQueue.opensAt`. */
  readonly reason: 'closed' | 'not-open';
  /** For `'not-open'`: when the room opens. */
  readonly opensAt: Date | undefined;
  constructor(roomId: string, reason: 'closed' | 'not-open', opensAt?: Date) {
    super(
      reason === 'closed' ? 'QUEUE_CLOSED' : 'QUEUE_NOT_OPEN',
      reason === 'closed'
        ? `waiting room ${JSON.stringify(roomId)} is closed`
        : `waiting room ${JSON.stringify(roomId)} opens at ${opensAt?.toISOString()}`,
    );
    this.roomId = roomId;
    this.reason = reason;
    this.opensAt = opensAt;
  }
}

/** Why a token was refused. */
export type AccessTokenErrorCode =
  | 'TOKEN_MISSING'
  | 'TOKEN_INVALID'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'TOKEN_FORBIDDEN';

/**
 * A token was refused. `status` is the HTTP status it maps to: 401 for missing, malformed, badly
 * signed, expired or revoked tokens; 403 for a valid token with the wrong scope or audience.
 */
export class AccessTokenError extends QueueError {
  override name = 'AccessTokenError';
  declare readonly code: AccessTokenErrorCode;
  /** 401 or 403. */
  readonly status: 401 | 403;
  constructor(code: AccessTokenErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.status = code === 'TOKEN_FORBIDDEN' ? 403 : 401;
  }
}

/** No token, a malformed token, a bad signature, a wrong issuer or algorithm (401). */
export class TokenInvalidError extends AccessTokenError {
  override name = 'TokenInvalidError';
  constructor(code: 'TOKEN_MISSING' | 'TOKEN_INVALID', message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** The token is past `expiresAt + grace` (401). */
export class TokenExpiredError extends AccessTokenError {
  override name = 'TokenExpiredError';
  /** When verification stopped accepting it. */
  readonly expiredAt: Date | undefined;
  constructor(expiredAt: Date | undefined, options?: ErrorOptions) {
    super(
      'TOKEN_EXPIRED',
      `token expired${expiredAt ? ` at ${expiredAt.toISOString()}` : ''}`,
      options,
    );
    this.expiredAt = expiredAt;
  }
}

/** Stateful check: the user is no longer active in the room (completed, expired, left) (401). */
export class TokenRevokedError extends AccessTokenError {
  override name = 'TokenRevokedError';
  /** The token's `jti`. */
  readonly jti: string;
  constructor(jti: string) {
    super('TOKEN_REVOKED', `token ${jti} is no longer valid: the user is not active in the room`);
    this.jti = jti;
  }
}

/** A valid token for another scope or audience (403). */
export class TokenForbiddenError extends AccessTokenError {
  override name = 'TokenForbiddenError';
  /** The claim that did not match: `'scope'`, `'aud'` or `'sub'`. */
  readonly claim: 'scope' | 'aud' | 'sub';
  /** What was required. */
  readonly expected: string;
  /** What the token carries. */
  readonly actual: unknown;
  constructor(claim: 'scope' | 'aud' | 'sub', expected: string, actual: unknown) {
    // The message reaches clients: it never names the subject (a user id) on either side.
    super(
      'TOKEN_FORBIDDEN',
      claim === 'sub'
        ? 'token was issued to another subject'
        : `token ${claim} ${JSON.stringify(actual)} does not grant ${JSON.stringify(expected)}`,
    );
    this.claim = claim;
    this.expected = expected;
    this.actual = actual;
  }
}
