import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

/** Why {@link Hs256.verify} refused a token. */
export type Hs256Refusal = 'malformed' | 'algorithm' | 'signature' | 'claims' | 'expired';

/** A token {@link Hs256.verify} refused; `exp` is the signed `exp` claim of an expired one. */
export class Hs256Error extends Error {
  override readonly name = 'Hs256Error';
  constructor(
    readonly reason: Hs256Refusal,
    message: string,
    readonly exp?: number,
  ) {
    super(message);
  }
}

/** What {@link Hs256.verify} requires besides the signature. */
export interface Hs256Expect {
  /** Required `iss`. */
  issuer: string;
  /** Required `aud` (a string equal to it, or an array holding it); not checked when omitted. */
  audience?: string;
  /** Claims that must be present. */
  required?: readonly string[];
  /** Clock skew tolerated for `exp` and `nbf`, in seconds. @defaultValue 0 */
  toleranceSec?: number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

function decodeObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Hs256Error('malformed', `${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Hs256Error('malformed', `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function numericDate(payload: Record<string, unknown>, claim: string): number | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Hs256Error('claims', `"${claim}" claim must be a number`);
  }
  return value;
}

/**
 * HS256 compact JWTs signed and verified with `node:crypto`, synchronously. Why not jose: jose goes
 * through WebCrypto, whose promise round trips cost ~160–200 µs per sign + verify pair against
 * ~17–19 µs here (measured in bench/README.md, "HS256 with node:crypto"), and the reference app
 * signs or verifies several tokens per arriving user. The claim checks follow jose's `jwtVerify`:
 * expired when `exp <= now - tolerance`, not yet valid when `nbf > now + tolerance`, `iat`/`exp`/
 * `nbf` must be numbers, the header must say HS256 and carry no `crit`. Tokens are interchangeable
 * with jose's (the tests sign with one and verify with the other).
 */
export class Hs256 {
  readonly #key: KeyObject;

  /** @param secret the shared secret (callers check its length: RFC 7518 wants ≥ 32 bytes) */
  constructor(secret: Uint8Array) {
    this.#key = createSecretKey(secret);
  }

  #mac(signingInput: string): Buffer {
    return createHmac('sha256', this.#key).update(signingInput).digest();
  }

  /** Sign `claims` as the payload of a `{"alg":"HS256","typ":"JWT"}` token. */
  sign(claims: Readonly<Record<string, unknown>>): string {
    const input = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    return `${input}.${this.#mac(input).toString('base64url')}`;
  }

  /**
   * The payload of `token` once its signature, header and registered claims pass.
   * @throws {Hs256Error} with the reason: `malformed`, `algorithm`, `signature`, `claims`, `expired`
   */
  verify(token: string, expect: Hs256Expect): Record<string, unknown> {
    const parts = token.split('.');
    if (parts.length !== 3) throw new Hs256Error('malformed', 'not a compact JWS (3 parts)');
    const [head, body, signature] = parts as [string, string, string];
    if (!SEGMENT.test(head) || !SEGMENT.test(body) || !SEGMENT.test(signature)) {
      throw new Hs256Error('malformed', 'a part is not base64url');
    }
    const header = decodeObject(head, 'header');
    if (header.alg !== 'HS256') throw new Hs256Error('algorithm', 'alg must be HS256');
    if (header.crit !== undefined || header.b64 !== undefined) {
      throw new Hs256Error('algorithm', 'unsupported header parameter (crit/b64)');
    }
    const given = Buffer.from(signature, 'base64url');
    const expected = this.#mac(`${head}.${body}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new Hs256Error('signature', 'signature verification failed');
    }
    const payload = decodeObject(body, 'payload');
    for (const claim of expect.required ?? []) {
      if (!(claim in payload)) throw new Hs256Error('claims', `missing required "${claim}" claim`);
    }
    if (payload.iss !== expect.issuer)
      throw new Hs256Error('claims', 'unexpected "iss" claim value');
    if (expect.audience !== undefined) {
      const aud = payload.aud;
      const ok = Array.isArray(aud) ? aud.includes(expect.audience) : aud === expect.audience;
      if (!ok) throw new Hs256Error('claims', 'unexpected "aud" claim value');
    }
    const now = Math.floor(Date.now() / 1000);
    const tolerance = expect.toleranceSec ?? 0;
    numericDate(payload, 'iat');
    const nbf = numericDate(payload, 'nbf');
    if (nbf !== undefined && nbf > now + tolerance) {
      throw new Hs256Error('claims', '"nbf" claim timestamp check failed');
    }
    const exp = numericDate(payload, 'exp');
    if (exp !== undefined && exp <= now - tolerance) {
      throw new Hs256Error('expired', '"exp" claim timestamp check failed', exp);
    }
    return payload;
  }
}
