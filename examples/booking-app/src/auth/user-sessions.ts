import { remember } from '../bounded-map.js';
import { UnauthorizedError } from '../errors.js';
import type { AuthUser, DemoAuth, SessionUser, StreamClaims } from './demo-auth.js';
import type { TokenRevocations } from './token-revocations.js';

/** Verified user tokens remembered per instance (the oldest are forgotten first). */
const VERIFIED_MAX = 20_000;

/**
 * The app's view of user tokens: {@link DemoAuth}'s signatures plus revocation in Redis, so a
 * logout holds on every instance. Verifying costs one Redis `EXISTS`, and one HMAC the first time
 * this instance sees a token: a waiting user presents the same token at every poll (the
 * check was a tenth of the app's CPU under load when it went through jose's WebCrypto; with
 * node:crypto it is ~10 µs, and remembering still spares the JSON parsing and claim checks). A token is
 * remembered by its exact text, so only a byte-identical, already verified token skips the check,
 * and only until its `exp`.
 */
export class UserSessions {
  readonly #verified = new Map<string, SessionUser>();

  constructor(
    private readonly auth: DemoAuth,
    private readonly revocations: TokenRevocations,
  ) {}

  /** Sign a user token (a login). */
  issue(user: AuthUser): Promise<{ token: string; expiresAt: Date }> {
    return this.auth.issue(user);
  }

  /**
   * Verify a user token and that it was not revoked.
   * @throws UnauthorizedError `token-expired`, `token-invalid` or `token-revoked`.
   */
  async verify(token: string): Promise<SessionUser> {
    const user = this.#remembered(token) ?? (await this.auth.verify(token));
    await this.refuseRevoked(user.tokenId);
    remember(this.#verified, token, user, VERIFIED_MAX);
    return user;
  }

  #remembered(token: string): SessionUser | undefined {
    const user = this.#verified.get(token);
    if (!user) return undefined;
    if (Date.now() < user.expiresAtSec * 1000) return { ...user };
    this.#verified.delete(token);
    return undefined;
  }

  /** Revoke the token `user` was verified from (a logout), on every instance. */
  logout(user: SessionUser): Promise<void> {
    return this.revocations.revoke(user.tokenId, user.expiresAtSec);
  }

  /** A stream token for `room`, bound to `user`'s token (see {@link DemoAuth.issueStream}). */
  issueStream(user: SessionUser, room: string): Promise<{ token: string; expiresAt: Date }> {
    return this.auth.issueStream(user, room);
  }

  /**
   * Verify a stream token for `room`; refused once the user token it came from is revoked.
   * @throws UnauthorizedError `token-expired`, `token-invalid` or `token-revoked`.
   */
  async verifyStream(token: string, room: string): Promise<StreamClaims> {
    const claims = await this.auth.verifyStream(token, room);
    await this.refuseRevoked(claims.sessionId);
    return claims;
  }

  private async refuseRevoked(tokenId: string): Promise<void> {
    if (await this.revocations.isRevoked(tokenId)) {
      throw new UnauthorizedError(
        'token-revoked',
        'the token was revoked (logged out); log in again',
      );
    }
  }
}
