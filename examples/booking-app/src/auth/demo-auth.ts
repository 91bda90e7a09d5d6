import { randomBytes } from 'node:crypto';
import { check } from '@boxoffice/internal';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UnauthorizedError } from '../errors.js';

/** Options of {@link DemoAuth}. */
export interface DemoAuthOptions {
  /** HS256 key, ≥ 32 bytes. @defaultValue 32 random bytes per process (tokens die with it) */
  secret?: string | Uint8Array | undefined;
  /** Token lifetime. @defaultValue 3600 */
  ttlSec?: number;
  /** `iss` claim. @defaultValue 'boxoffice-demo' */
  issuer?: string;
  /** `aud` claim. @defaultValue 'boxoffice-booking-app' */
  audience?: string;
}

const DEFAULTS = Object.freeze({
  secret: undefined as string | Uint8Array | undefined,
  ttlSec: 3600,
  issuer: 'boxoffice-demo',
  audience: 'boxoffice-booking-app',
});

/** The identity a verified user token carries. */
export interface AuthUser {
  id: number;
  name: string;
}

/**
 * DEMO ONLY: user sessions as HS256 JWTs (jose) issued to anyone who names themselves — no
 * password, no account check. It exists so the booking flow has a user id to work with; put a
 * real identity provider in front of a real deployment. Tokens carry `sub` (user id), `name`,
 * `scope: 'user'` and `demo: true`; verification pins the algorithm, issuer and audience.
 * Queue and seat-payment tokens are a different thing, issued by `@boxoffice/queue`.
 */
export class DemoAuth {
  private readonly key: Uint8Array;
  private readonly ttlSec: number;
  private readonly issuer: string;
  private readonly audience: string;

  constructor(options: DemoAuthOptions = {}) {
    const o = check.mergeOptions('DemoAuth options', DEFAULTS, options);
    this.ttlSec = check.integer('ttlSec', o.ttlSec, { min: 1, max: 86_400 * 30 });
    this.issuer = check.text('issuer', o.issuer, { maxBytes: 256, printable: true });
    this.audience = check.text('audience', o.audience, { maxBytes: 256, printable: true });
    const secret = o.secret ?? randomBytes(32);
    this.key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
    if (!(this.key instanceof Uint8Array) || this.key.byteLength < 32) {
      throw new RangeError('secret must be at least 32 bytes (HS256)');
    }
  }

  /** Sign a user token; returns it with its expiry. */
  async issue(user: AuthUser): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSec;
    const token = await new SignJWT({ name: user.name, scope: 'user', demo: true })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(user.id))
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verify a user token.
   * @throws UnauthorizedError `token-expired` or `token-invalid` (bad signature, algorithm, issuer,
   * audience, scope or claims).
   */
  async verify(token: string): Promise<AuthUser> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const id = Number(payload.sub);
      if (payload.scope !== 'user' || !Number.isSafeInteger(id) || id <= 0) {
        throw new UnauthorizedError('token-invalid', 'not a user token');
      }
      return { id, name: typeof payload.name === 'string' ? payload.name : '' };
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      if (error instanceof joseErrors.JWTExpired) {
        throw new UnauthorizedError('token-expired', 'the token has expired; log in again');
      }
      throw new UnauthorizedError('token-invalid', `invalid token: ${(error as Error).message}`);
    }
  }
}
