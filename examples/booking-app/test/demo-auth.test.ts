import { describe, expect, it } from 'vitest';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { UnauthorizedError } from '../src/errors.js';

describe('DemoAuth', () => {
  it('round-trips a user and marks the token as a demo HS256 token', async () => {
    const auth = new DemoAuth();
    const { token, expiresAt } = await auth.issue({ id: 7, name: 'ann' });
    const verified = await auth.verify(token);
    expect(verified).toMatchObject({ id: 7, name: 'ann' });
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString() || '{}'));
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: '7', scope: 'user', demo: true, iss: 'boxoffice-demo' });
    expect(expiresAt.getTime()).toBe(payload.exp * 1000);
    // The jti is what a logout revokes.
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(verified).toMatchObject({ tokenId: payload.jti, expiresAtSec: payload.exp });
  });

  it('a stream token opens one room only, never passes for a user token, and vice versa', async () => {
    const auth = new DemoAuth({ streamTtlSec: 60 });
    const user = await auth.verify((await auth.issue({ id: 3, name: 'sam' })).token);
    const { token, expiresAt } = await auth.issueStream(user, 'concert-1');
    expect(await auth.verifyStream(token, 'concert-1')).toEqual({ id: 3, sessionId: user.tokenId });
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    const refused = async (p: Promise<unknown>) =>
      ((await p.catch((e: unknown) => e)) as UnauthorizedError).reason;
    expect(await refused(auth.verifyStream(token, 'concert-2'))).toBe('token-invalid');
    expect(await refused(auth.verify(token))).toBe('token-invalid');
    const userToken = (await auth.issue({ id: 3, name: 'sam' })).token;
    expect(await refused(auth.verifyStream(userToken, 'boxoffice-booking-app'))).toBe(
      'token-invalid',
    );
    // Never outlives the user token it was issued against.
    const ending = { ...user, expiresAtSec: Math.floor(Date.now() / 1000) + 5 };
    const capped = await auth.issueStream(ending, 'concert-1');
    expect(capped.expiresAt.getTime()).toBe(ending.expiresAtSec * 1000);
  });

  it('refuses tokens of another secret, issuer or audience', async () => {
    const secret = 'x'.repeat(32);
    const token = (await new DemoAuth({ secret }).issue({ id: 1, name: 'a' })).token;
    for (const other of [
      new DemoAuth({ secret: 'y'.repeat(32) }),
      new DemoAuth({ secret, issuer: 'elsewhere' }),
      new DemoAuth({ secret, audience: 'other-app' }),
    ]) {
      const error = await other.verify(token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect((error as UnauthorizedError).reason).toBe('token-invalid');
    }
  });

  it('validates its options', () => {
    expect(() => new DemoAuth({ secret: 'short' })).toThrow(/at least 32 bytes/);
    expect(() => new DemoAuth({ ttlSec: 0 })).toThrow(RangeError);
    expect(() => new DemoAuth({ ttl: 5 } as never)).toThrow(/unknown option 'ttl'/);
  });
});
