import { redisTargets, useRedis } from '@boxoffice/local-redis/testing';
import { describe, expect, it } from 'vitest';
import { DemoAuth } from '../src/auth/demo-auth.js';
import { TokenRevocations } from '../src/auth/token-revocations.js';
import { UserSessions } from '../src/auth/user-sessions.js';
import { UnauthorizedError } from '../src/errors.js';

const standalone = redisTargets().filter((t) => t.name === 'standalone');

// UserSessions remembers tokens it verified (a waiting user presents the same one at every poll):
// remembering must never let through what a fresh check would refuse.
describe.each(standalone)('UserSessions on $name', (target) => {
  const redis = useRedis(target);
  const sessions = (auth: DemoAuth) =>
    new UserSessions(auth, new TokenRevocations(redis.client, { prefix: redis.prefix }));
  const refusal = async (p: Promise<unknown>) => {
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UnauthorizedError);
    return (error as UnauthorizedError).code;
  };

  it('a remembered token is refused once revoked, on another instance too', async () => {
    const auth = new DemoAuth({ secret: 'x'.repeat(32) });
    const [one, two] = [sessions(auth), sessions(auth)];
    const { token } = await auth.issue({ id: 1, name: 'ann' });
    const user = await one.verify(token);
    await two.verify(token);
    await one.logout(user);
    expect(await refusal(one.verify(token))).toBe('token-revoked');
    expect(await refusal(two.verify(token))).toBe('token-revoked');
  });

  it('a remembered token is refused once expired', async () => {
    const auth = new DemoAuth({ secret: 'x'.repeat(32), ttlSec: 1 });
    const s = sessions(auth);
    const { token, expiresAt } = await auth.issue({ id: 2, name: 'bo' });
    expect((await s.verify(token)).id).toBe(2);
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now())),
    );
    expect(await refusal(s.verify(token))).toBe('token-expired');
  });

  it('a token that differs by one character is checked, not taken for the remembered one', async () => {
    const auth = new DemoAuth({ secret: 'x'.repeat(32) });
    const s = sessions(auth);
    const { token } = await auth.issue({ id: 3, name: 'cy' });
    await s.verify(token);
    // A middle character of the signature (the last one may only carry base64 padding bits).
    const at = token.length - 10;
    const other = token[at] === 'A' ? 'B' : 'A';
    const forged = `${token.slice(0, at)}${other}${token.slice(at + 1)}`;
    expect(await refusal(s.verify(forged))).toBe('token-invalid');
  });
});
