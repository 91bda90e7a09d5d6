import {
  check,
  keyPart,
  keyPrefix,
  luaScript,
  type RedisClient,
  TickPipeline,
} from '@boxoffice/internal';
import hitLua from '../lua/fixed-window-hit.lua';

const hitScript = luaScript('bookingapp', 'fixed_window_hit', hitLua, __PACKAGE_VERSION__);

/** Options of {@link FixedWindowLimiter}. */
export interface FixedWindowLimiterOptions {
  /** What is limited, part of the key (e.g. `login`). */
  name: string;
  /** Hits allowed per window and caller. */
  limit: number;
  /** Window length. @defaultValue 60000 */
  windowMs?: number;
  /** Key prefix. @defaultValue 'bo' */
  prefix?: string;
}

const DEFAULTS = Object.freeze({ name: '', limit: 0, windowMs: 60_000, prefix: 'bo' });

/** The outcome of one hit. */
export interface RateLimitResult {
  allowed: boolean;
  /** Hits left in this window. */
  remaining: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/**
 * A fixed-window rate limit shared by every app instance: one atomic Lua step per hit
 * (INCR + PEXPIRE on the window's first hit), one key per caller with a TTL of one window, so
 * nothing is left behind. Each key is its own hash tag: works on Redis Cluster. The hits of one
 * event-loop turn, of every limiter, leave in the client's shared pipeline
 * ({@link TickPipeline.shared}; a Cluster sends each directly).
 * Redis errors are not swallowed: the app answers 503 rather than letting unlimited traffic through.
 */
export class FixedWindowLimiter {
  readonly limit: number;
  readonly windowMs: number;
  private readonly base: string;
  private readonly hits: TickPipeline;

  constructor(redis: RedisClient, options: FixedWindowLimiterOptions) {
    const o = check.mergeOptions('FixedWindowLimiter options', DEFAULTS, options);
    const name = keyPart('name', o.name, 64);
    if (/[{}]/.test(name)) throw new TypeError('name must not contain braces');
    this.limit = check.integer('limit', o.limit, { min: 1 });
    this.windowMs = check.integer('windowMs', o.windowMs, { min: 1, max: 86_400_000 });
    this.base = `${keyPrefix('prefix', o.prefix)}:ratelimit:{${name}:`;
    // Defined before any pipeline of this client exists: a pipeline knows the commands defined
    // on its client when it was created.
    hitScript.register(redis);
    this.hits = TickPipeline.shared(redis);
  }

  /** Count one hit for `caller` (an IP, a user id) and say whether it is within the limit. */
  async hit(caller: string): Promise<RateLimitResult> {
    const id = check.text('caller', caller, { maxBytes: 256 }).replace(/[{}]/g, '_');
    const [hits, ttl] = (await this.hits.call(
      hitScript.command,
      hitScript.argv([`${this.base}${id}}`], [this.windowMs]),
    )) as [number, number];
    return {
      allowed: hits <= this.limit,
      remaining: Math.max(0, this.limit - hits),
      resetMs: ttl,
    };
  }
}
