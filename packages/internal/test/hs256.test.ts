import { randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { Hs256, Hs256Error, type Hs256Refusal } from '../src/hs256.js';

const secret = randomBytes(32);
const jwt = new Hs256(secret);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = () => ({ sub: '7', iss: 'me', aud: 'room', jti: 'j', iat: now(), exp: now() + 60 });
const expect_ = { issuer: 'me', audience: 'room', required: ['sub', 'exp', 'jti'] };

function refused(token: string, reason: Hs256Refusal, options = expect_): Hs256Error {
  try {
    jwt.verify(token, options);
  } catch (error) {
    expect(error).toBeInstanceOf(Hs256Error);
    expect((error as Hs256Error).reason).toBe(reason);
    return error as Hs256Error;
  }
  throw new Error(`verify accepted ${token}`);
}

describe('Hs256', () => {
  it('signs tokens jose verifies, and verifies tokens jose signs', async () => {
    const mine = jwt.sign({ ...claims(), scope: 'user' });
    const { payload, protectedHeader } = await jwtVerify(mine, secret, {
      algorithms: ['HS256'],
      issuer: 'me',
      audience: 'room',
    });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ sub: '7', scope: 'user' });

    const theirs = await new SignJWT({ scope: 'user' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('7')
      .setIssuer('me')
      .setAudience(['other', 'room'])
      .setJti('j')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(secret);
    expect(jwt.verify(theirs, expect_)).toMatchObject({ sub: '7', scope: 'user' });
  });

  it('refuses malformed tokens, other algorithms and bad signatures', () => {
    const token = jwt.sign(claims());
    const [header, payload, signature] = token.split('.') as [string, string, string];
    refused('', 'malformed');
    refused(`${header}.${payload}`, 'malformed');
    refused(`${header}.${payload}.${signature}.x`, 'malformed');
    refused(`${header}.${payload}=.${signature}`, 'malformed');
    refused(`${header}.${payload}.${signature} `, 'malformed');
    refused(`${b64([1])}.${payload}.${signature}`, 'malformed');
    refused(`${b64({ alg: 'none' })}.${payload}.${signature}`, 'algorithm');
    refused(`${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.${signature}`, 'algorithm');
    const crit = b64({ alg: 'HS256', crit: ['exp'], exp: 1 });
    const critSigned = new Hs256(secret).sign(claims()).split('.')[2];
    refused(`${crit}.${payload}.${critSigned}`, 'algorithm');
    refused(`${header}.${b64({ ...claims(), sub: 'admin' })}.${signature}`, 'signature');
    refused(new Hs256(randomBytes(32)).sign(claims()), 'signature');
    // A middle character: the last one may only change padding bits.
    const flipped =
      signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    refused(`${header}.${payload}.${flipped}`, 'signature');
  });

  it('checks the registered claims as jose does', () => {
    const t = now();
    refused(jwt.sign({ ...claims(), iss: 'you' }), 'claims');
    refused(jwt.sign({ ...claims(), aud: 'elsewhere' }), 'claims');
    refused(jwt.sign({ ...claims(), aud: ['a', 'b'] }), 'claims');
    refused(jwt.sign({ ...claims(), jti: undefined }), 'claims');
    refused(jwt.sign({ ...claims(), iat: 'yesterday' }), 'claims');
    refused(jwt.sign({ ...claims(), exp: '2099' }), 'claims');
    refused(jwt.sign({ ...claims(), nbf: t + 30 }), 'claims');
    expect(
      jwt.verify(jwt.sign({ ...claims(), nbf: t + 30 }), { ...expect_, toleranceSec: 60 }),
    ).toBeTruthy();
    const expired = refused(jwt.sign({ ...claims(), exp: t }), 'expired');
    expect(expired.exp).toBe(t);
    expect(
      jwt.verify(jwt.sign({ ...claims(), exp: t }), { ...expect_, toleranceSec: 5 }),
    ).toBeTruthy();
    // No audience asked for: none checked.
    expect(jwt.verify(jwt.sign({ ...claims(), aud: 'x' }), { issuer: 'me' })).toBeTruthy();
  });
});
