import { randomBytes, randomUUID } from 'node:crypto';
import { check, Hs256, Hs256Error } from '@boxoffice/internal';
import { UnauthorizedError } from '../errors.js';

/** Options of {@link DemoAuth}. */
export interface DemoAuthOptions {
  /** HS256 key, ≥ 32 bytes. @defaultValue 32 random bytes per process (tokens die with it) */
  secret?: string | Uint8Array | undefined;
  /** Token lifetime. @defaultValue 3600 */
  ttlSec?: number;
  /** Lifetime of a stream token ({@link DemoAuth.issueStream}). @defaultValue 120 */
  streamTtlSec?: number;
  /** `iss` claim. @defaultValue 'boxoffice-demo' */
  issuer?: string;
  /** `aud` claim. @defaultValue 'boxoffice-booking-app' */
  audience?: string;
}

const DEFAULTS = Object.freeze({
  secret: undefined as string | Uint8Array | undefined,
  ttlSec: 3600,
  streamTtlSec: 120,
  issuer: 'boxoffice-demo',
  audience: 'boxoffice-booking-app',
});

/** The identity a verified user token carries. */
export interface AuthUser {
  id: number;
  name: string;
}

/** A verified user token: who, plus the token's id and expiry (what a logout revokes). */
export interface SessionUser extends AuthUser {
  /** The token's `jti`. */
  tokenId: string;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAtSec: number;
}

/** A verified stream token. */
export interface StreamClaims {
  /** The user (`sub`). */
  id: number;
  /** `jti` of the user token it was issued against (revoking that one refuses this one too). */
  sessionId: string;
}

/** `scope` of a stream token: the events of one waiting room, nothing else. */
export const STREAM_SCOPE = 'queue_events';

/**
 * DEMO ONLY: user sessions as HS256 JWTs (`Hs256`: node:crypto, interchangeable with jose) issued to anyone who names themselves — no
 * password, no account check. It exists so the booking flow has a user id to work with; put a
 * real identity provider in front of a real deployment. Tokens carry `sub` (user id), `name`,
 * `scope: 'user'`, `demo: true` and a `jti` (what a logout revokes); verification pins the algorithm,
 * issuer and audience. Stream tokens ({@link DemoAuth.issueStream}) are signed with the same key
 * but carry another scope and audience, so neither passes for the other.
 * Queue and seat-payment tokens are a different thing, issued by `@boxoffice/queue`.
 */
export class DemoAuth {
  private readonly jwt: Hs256;
  private readonly ttlSec: number;
  private readonly streamTtlSec: number;
  private readonly issuer: string;
  private readonly audience: string;

  constructor(options: DemoAuthOptions = {}) {
    const o = check.mergeOptions('DemoAuth options', DEFAULTS, options);
    this.ttlSec = check.integer('ttlSec', o.ttlSec, { min: 1, max: 86_400 * 30 });
    this.streamTtlSec = check.integer('streamTtlSec', o.streamTtlSec, { min: 1, max: 3600 });
    this.issuer = check.text('issuer', o.issuer, { maxBytes: 256, printable: true });
    this.audience = check.text('audience', o.audience, { maxBytes: 256, printable: true });
    const secret = o.secret ?? randomBytes(32);
    const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength < 32) {
      throw new RangeError('secret must be at least 32 bytes (HS256)');
    }
    this.jwt = new Hs256(bytes);
  }

  /** Sign a user token; returns it with its expiry. */
  async issue(user: AuthUser): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.ttlSec;
    const token = this.jwt.sign({
      name: user.name,
      scope: 'user',
      demo: true,
      sub: String(user.id),
      jti: randomUUID(),
      iss: this.issuer,
      aud: this.audience,
      iat: now,
      exp,
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verify a user token.
   * @throws UnauthorizedError `token-expired` or `token-invalid` (bad signature, algorithm, issuer,
   * audience, scope or claims).
   */
  async verify(token: string): Promise<SessionUser> {
    try {
      const payload = this.jwt.verify(token, {
        issuer: this.issuer,
        audience: this.audience,
        required: ['sub', 'exp', 'iat', 'jti'],
      });
      const id = Number(payload.sub);
      if (
        payload.scope !== 'user' ||
        !Number.isSafeInteger(id) ||
        id <= 0 ||
        !validJti(payload.jti)
      ) {
        throw new UnauthorizedError('token-invalid', 'not a user token');
      }
      return {
        id,
        name: typeof payload.name === 'string' ? payload.name : '',
        tokenId: payload.jti,
        expiresAtSec: payload.exp as number,
      };
    } catch (error) {
      throw refusal(error);
    }
  }

  /**
   * Sign a stream token for `user` and one room (`aud` = `room`, e.g. `concert-1`): it opens that
   * room's event stream and nothing else, for `streamTtlSec` at most (never past the user token).
   * Meant for URLs (EventSource cannot send headers), where a token may be logged.
   */
  async issueStream(user: SessionUser, room: string): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + this.streamTtlSec, user.expiresAtSec);
    const token = this.jwt.sign({
      scope: STREAM_SCOPE,
      sid: user.tokenId,
      sub: String(user.id),
      jti: randomUUID(),
      iss: this.issuer,
      aud: room,
      iat: now,
      exp,
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verify a stream token for `room`.
   * @throws UnauthorizedError `token-expired` or `token-invalid` (a user token included).
   */
  async verifyStream(token: string, room: string): Promise<StreamClaims> {
    try {
      const payload = this.jwt.verify(token, {
        issuer: this.issuer,
        audience: room,
        required: ['sub', 'exp', 'iat'],
      });
      const id = Number(payload.sub);
      if (
        payload.scope !== STREAM_SCOPE ||
        !Number.isSafeInteger(id) ||
        id <= 0 ||
        !validJti(payload.sid)
      ) {
        throw new UnauthorizedError('token-invalid', 'not a stream token of this room');
      }
      return { id, sessionId: payload.sid };
    } catch (error) {
      throw refusal(error);
    }
  }
}

const validJti = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= 128;

/** A verification or claim error as the 401 to answer with. */
function refusal(error: unknown): UnauthorizedError {
  if (error instanceof UnauthorizedError) return error;
  if (error instanceof Hs256Error && error.reason === 'expired') {
    return new UnauthorizedError('token-expired', 'the token has expired');
  }
  return new UnauthorizedError('token-invalid', `invalid token: ${(error as Error).message}`);
}
