import { describe, expect, it } from 'vitest';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { UnauthorizedError } from '../src/errors.js';

describe('DemoAuth', () => {
  it('round-trips a user and marks the token as a demo HS256 token', async () => {
    const auth = new DemoAuth();
    const { token, expiresAt } = await auth.issue({ id: 7, name: 'ann' });
    expect(await auth.verify(token)).toEqual({ id: 7, name: 'ann' });
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString() || '{}'));
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: '7', scope: 'user', demo: true, iss: 'boxoffice-demo' });
    expect(expiresAt.getTime()).toBe(payload.exp * 1000);
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
