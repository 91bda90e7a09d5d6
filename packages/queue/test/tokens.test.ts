import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AccessTokens,
  TokenExpiredError,
  TokenForbiddenError,
  TokenInvalidError,
} from '../src/index.js';
import { hsTokens, SECRET } from './helpers.js';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const scope = 'seat_reservation_payment';
const audience = 'concert-42';

describe('AccessTokens', () => {
  const tokens = hsTokens();

  it('issues and verifies with HS256, EdDSA and ES256', async () => {
    const ed = generateKeyPairSync('ed25519');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signers = [
      tokens,
      new AccessTokens({ privateKey: ed.privateKey, issuer: 'boxoffice-test' }),
      new AccessTokens({
        privateKey: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        issuer: 'boxoffice-test',
      }),
    ];
    expect(signers.map((s) => s.alg)).toEqual(['HS256', 'EdDSA', 'ES256']);
    for (const signer of signers) {
      const issued = await signer.issue({
        sub: 'u1',
        scope,
        aud: audience,
        ttlMs: 60_000,
        claims: { seat: 'A-12' },
      });
      const claims = await signer.verify(issued.token, { scope, audience, subject: 'u1' });
      expect(claims).toMatchObject({ sub: 'u1', scope, aud: audience, jti: issued.jti });
      expect(claims.payload.seat).toBe('A-12');
      const header = JSON.parse(
        Buffer.from(issued.token.split('.')[0] as string, 'base64url').toString(),
      );
      expect(header.alg).toBe(signer.alg);
    }
    // a verify-only instance from the public key
    const verifier = new AccessTokens({ publicKey: ed.publicKey, issuer: 'boxoffice-test' });
    const issued = await (signers[1] as AccessTokens).issue({
      sub: 'u2',
      scope,
      aud: audience,
      ttlMs: 60_000,
    });
    expect((await verifier.verify(issued.token, { scope, audience })).sub).toBe('u2');
    await expect(verifier.issue({ sub: 'u2', scope, aud: audience, ttlMs: 1000 })).rejects.toThrow(
      /only verifies/,
    );
  });

  it('gives unique jti values and keeps a given jti', async () => {
    const jtis = new Set<string>();
    for (let i = 0; i < 50; i++)
      jtis.add((await tokens.issue({ sub: 'u', scope, aud: audience, ttlMs: 1000 })).jti);
    expect(jtis.size).toBe(50);
    const fixed = await tokens.issue({ sub: 'u', scope, aud: audience, ttlMs: 1000, jti: 'j-1' });
    expect((await tokens.verify(fixed.token, { scope, audience })).jti).toBe('j-1');
  });

  it('refuses the wrong scope, audience or subject with 403', async () => {
    const { token } = await tokens.issue({
      sub: 'u1',
      scope: 'queue_entry',
      aud: audience,
      ttlMs: 60_000,
    });
    const wrongScope = await tokens.verify(token, { scope, audience }).catch((e: unknown) => e);
    expect(wrongScope).toBeInstanceOf(TokenForbiddenError);
    expect(wrongScope).toMatchObject({ status: 403, code: 'TOKEN_FORBIDDEN', claim: 'scope' });
    await expect(
      tokens.verify(token, { scope: 'queue_entry', audience: 'other' }),
    ).rejects.toMatchObject({
      status: 403,
      claim: 'aud',
    });
    const wrongSub = await tokens
      .verify(token, { scope: 'queue_entry', audience, subject: 'u2' })
      .catch((e: unknown) => e);
    expect(wrongSub).toMatchObject({ status: 403, claim: 'sub', expected: 'u2', actual: 'u1' });
    // The message goes to clients: it names neither user.
    expect((wrongSub as Error).message).not.toMatch(/u1|u2/);
  });

  it('refuses bad signatures, other issuers, alg none and algorithm confusion with 401', async () => {
    const { token } = await tokens.issue({ sub: 'u1', scope, aud: audience, ttlMs: 60_000 });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const tampered = `${header}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'admin' })}.${signature}`;
    const other = new AccessTokens({ secret: `${SECRET}-other`, issuer: 'boxoffice-test' });
    const otherIssuer = new AccessTokens({ secret: SECRET, issuer: 'someone-else' });
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    const cases = [
      tampered,
      (await other.issue({ sub: 'u1', scope, aud: audience, ttlMs: 60_000 })).token,
      (await otherIssuer.issue({ sub: 'u1', scope, aud: audience, ttlMs: 60_000 })).token,
      none,
      'not.a.jwt',
      'garbage',
    ];
    for (const bad of cases) {
      const error = await tokens.verify(bad, { scope, audience }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenInvalidError);
      expect(error).toMatchObject({ status: 401, code: 'TOKEN_INVALID' });
    }
    // HS/asymmetric confusion: an HS256 token signed with the Ed25519 public key as the secret
    const ed = generateKeyPairSync('ed25519');
    const pem = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const edTokens = new AccessTokens({ publicKey: pem, issuer: 'boxoffice-test' });
    const confused = await new AccessTokens({ secret: pem, issuer: 'boxoffice-test' }).issue({
      sub: 'u1',
      scope,
      aud: audience,
      ttlMs: 60_000,
    });
    await expect(edTokens.verify(confused.token, { scope, audience })).rejects.toMatchObject({
      code: 'TOKEN_INVALID',
    });
    await expect(tokens.verify('', { scope, audience })).rejects.toMatchObject({
      code: 'TOKEN_MISSING',
    });
  });

  it('accepts tokens during the grace period and refuses them after', async () => {
    const now = Date.now();
    const inGrace = await tokens.issue({
      sub: 'u',
      scope,
      aud: audience,
      expiresAt: now - 2000,
      graceMs: 60_000,
    });
    const claims = await tokens.verify(inGrace.token, { scope, audience });
    expect(claims.expiresAt).toBeLessThan(now);
    expect(claims.exp).toBeGreaterThan(now);
    expect(inGrace.expiresAt).toBe(now - 2000);
    const expired = await tokens.issue({
      sub: 'u',
      scope,
      aud: audience,
      expiresAt: now - 5000,
      graceMs: 2000,
    });
    const error = await tokens.verify(expired.token, { scope, audience }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenExpiredError);
    expect(error).toMatchObject({ status: 401, code: 'TOKEN_EXPIRED' });
    // the clock tolerance widens the window
    const tolerant = new AccessTokens({
      secret: SECRET,
      issuer: 'boxoffice-test',
      clockToleranceSec: 60,
    });
    expect((await tolerant.verify(expired.token, { scope, audience })).sub).toBe('u');
  });

  it('validates its options and arguments', async () => {
    expect(() => new AccessTokens({ secret: 'short', issuer: 'x' })).toThrow(RangeError);
    expect(() => new AccessTokens({ issuer: 'x' })).toThrow(/secret/);
    expect(() => new AccessTokens({ secret: SECRET, issuer: '' })).toThrow(RangeError);
    expect(() => new AccessTokens({ secret: SECRET, issuer: 'x', alg: 'EdDSA' })).toThrow(/HS256/);
    expect(() => new AccessTokens({ secret: SECRET, issuer: 'x', alg: 'none' as never })).toThrow(
      /alg/,
    );
    expect(() => new AccessTokens({ secret: SECRET, issuer: 'x', secrets: 1 } as never)).toThrow(
      /unknown option/,
    );
    const ed = generateKeyPairSync('ed25519');
    expect(
      () => new AccessTokens({ privateKey: ed.privateKey, issuer: 'x', alg: 'ES256' }),
    ).toThrow(/match/);
    await expect(tokens.issue({ sub: 'u', scope, aud: audience, ttlMs: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(tokens.issue({ sub: 'u', scope, aud: audience })).rejects.toThrow(/ttlMs/);
    await expect(
      tokens.issue({ sub: 'u', scope, aud: audience, ttlMs: 1000, claims: { exp: 1 } }),
    ).rejects.toThrow(/registered claim/);
  });
});
