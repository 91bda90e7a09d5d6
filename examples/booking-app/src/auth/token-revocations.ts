import { check, keyPrefix, type RedisClient, TickPipeline } from '@boxoffice/internal';

/** Options of {@link TokenRevocations}. */
export interface TokenRevocationsOptions {
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
  /** Kept this much past a token's `exp`, for instance clocks that run behind. @defaultValue 5000 */
  clockSkewMs?: number;
}

const DEFAULTS = Object.freeze({ prefix: 'bo', clockSkewMs: 5000 });

/**
 * Revoked token ids (`jti`) in Redis, shared by every app instance: one key per revoked token
 * with a TTL until the token would have expired anyway, so the set never outgrows the tokens that
 * are still alive. A check is one `EXISTS` (each key is its own hash tag: works on Redis Cluster);
 * the checks of one event-loop turn leave in the client's shared pipeline
 * ({@link TickPipeline.shared}: one socket write for every request that arrived together, rate-limit
 * hits included; a Cluster sends each directly).
 * Redis errors are not swallowed: a request whose token cannot be checked gets 503, not a pass.
 */
export class TokenRevocations {
  private readonly base: string;
  private readonly clockSkewMs: number;
  private readonly checks: TickPipeline;

  constructor(
    private readonly redis: RedisClient,
    options: TokenRevocationsOptions = {},
  ) {
    const o = check.mergeOptions('TokenRevocations options', DEFAULTS, options);
    this.base = `${keyPrefix('prefix', o.prefix)}:revoked-token:`;
    this.clockSkewMs = check.integer('clockSkewMs', o.clockSkewMs, { min: 0, max: 600_000 });
    this.checks = TickPipeline.shared(redis);
  }

  /** Revoke token `jti` until its expiry `expiresAtSec` (seconds since the epoch). */
  async revoke(jti: string, expiresAtSec: number): Promise<void> {
    const ttlMs = Math.max(1, expiresAtSec * 1000 - Date.now()) + this.clockSkewMs;
    await this.redis.set(this.key(jti), '1', 'PX', Math.ceil(ttlMs));
  }

  /** Whether token `jti` was revoked. */
  async isRevoked(jti: string): Promise<boolean> {
    return (await this.checks.call('exists', [this.key(jti)])) === 1;
  }

  private key(jti: string): string {
    const id = check.text('jti', jti, { maxBytes: 128 }).replace(/[{}]/g, '_');
    return `${this.base}{${id}}`;
  }
}
