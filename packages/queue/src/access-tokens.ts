import {
  createPrivateKey,
  createPublicKey,
  KeyObject,
  randomUUID,
  type webcrypto,
} from 'node:crypto';
import { check, Hs256, Hs256Error } from '@boxoffice/internal';
import { type JWTPayload, errors as jose, jwtVerify, SignJWT } from 'jose';
import {
  type AccessTokenError,
  TokenExpiredError,
  TokenForbiddenError,
  TokenInvalidError,
} from './errors.js';

type CryptoKey = webcrypto.CryptoKey;

/** Signing algorithms accepted. Verification is pinned to the one configured. */
export type AccessTokenAlgorithm = 'HS256' | 'EdDSA' | 'ES256';

/** A key as a Node `KeyObject`, a WebCrypto `CryptoKey`, or PEM text. */
export type AccessTokenKey = KeyObject | webcrypto.CryptoKey | string;

/** Options of {@link AccessTokens}. Give `secret` (HS256) or `privateKey`/`publicKey` (EdDSA, ES256). */
export interface AccessTokensOptions {
  /** HS256 shared secret, at least 32 bytes. */
  secret?: string | Uint8Array;
  /** Private key for issuing with EdDSA (Ed25519) or ES256 (P-256). */
  privateKey?: AccessTokenKey;
  /** Public key for verifying; derived from `privateKey` when omitted. Alone, the instance only verifies. */
  publicKey?: AccessTokenKey;
  /**
   * The algorithm; the only one `verify` accepts.
   * @defaultValue `'HS256'` with a secret; with keys, inferred from the key type (Ed25519 → EdDSA, P-256 → ES256)
   */
  alg?: AccessTokenAlgorithm;
  /** `iss` written into and required from every token. */
  issuer: string;
  /**
   * Clock skew tolerated when checking `exp`/`nbf`, in seconds.
   * @defaultValue 0
   */
  clockToleranceSec?: number;
}

/** What {@link AccessTokens.issue} needs. Give `ttlMs` or `expiresAt`. */
export interface IssueOptions {
  /** The user (`sub`). */
  sub: string;
  /** What the token allows, e.g. `'queue_entry'`, `'seat_reservation_payment'`. */
  scope: string;
  /** The audience, e.g. the room or concert id. */
  aud: string;
  /** Lifetime shown to the UI, in ms from now. */
  ttlMs?: number;
  /** Absolute expiry shown to the UI (epoch ms), instead of `ttlMs`. */
  expiresAt?: number;
  /**
   * Extra time verification still accepts after `expiresAt` (the UI timer ends first).
   * @defaultValue 0
   */
  graceMs?: number;
  /** Token id; a random UUID when omitted. Re-issuing with the same `jti` keeps revocation stable. */
  jti?: string;
  /** Additional claims (e.g. `{ seat: 'A-12' }`); registered claim names are refused. */
  claims?: Record<string, unknown>;
}

/** A signed token and what the UI needs. */
export interface IssuedToken {
  /** The compact JWT. */
  token: string;
  /** Expiry to show in the UI (epoch ms), exactly as given; carried in the `eat` claim. */
  expiresAt: number;
  /** The token id. */
  jti: string;
}

/** What a verified token says. */
export interface AccessClaims {
  sub: string;
  scope: string;
  aud: string;
  jti: string;
  /** Expiry shown to the UI (epoch ms), to the millisecond given to `issue` (the `eat` claim). */
  expiresAt: number;
  /**
   * Hard expiry (epoch ms): the JWT `exp` × 1000 = `ceil((expiresAt + grace) / 1000) × 1000`, i.e.
   * `expiresAt + grace` rounded up to a whole second (0–999 ms later).
   */
  exp: number;
  /** The whole payload, including extra claims. */
  payload: JWTPayload;
}

/** What {@link AccessTokens.verify} requires. */
export interface VerifyOptions {
  /** Required `scope`. */
  scope: string;
  /** Required `aud`. */
  audience: string;
  /** Required `sub`, when the caller knows who it expects. */
  subject?: string;
}

const REQUIRED = ['sub', 'aud', 'jti', 'exp'];
const RESERVED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'uexp', 'eat']);
const DEFAULTS: Readonly<AccessTokensOptions> = Object.freeze({
  secret: undefined,
  privateKey: undefined,
  publicKey: undefined,
  alg: undefined,
  issuer: '',
  clockToleranceSec: 0,
});

function toPrivate(value: AccessTokenKey, name: string): KeyObject | CryptoKey {
  if (typeof value === 'string') return createPrivateKey(value);
  if (typeof value === 'object' && value !== null && 'type' in value) return value;
  throw new TypeError(`${name} must be a KeyObject, CryptoKey or PEM string`);
}

function toPublic(value: AccessTokenKey, name: string): KeyObject | CryptoKey {
  if (typeof value === 'string') return createPublicKey(value);
  if (typeof value === 'object' && value !== null && 'type' in value) return value;
  throw new TypeError(`${name} must be a KeyObject, CryptoKey or PEM string`);
}

function inferAlg(key: KeyObject | CryptoKey): AccessTokenAlgorithm | undefined {
  if (key instanceof KeyObject) {
    if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')
      return 'ES256';
    return undefined;
  }
  const algo = key.algorithm as { name: string; namedCurve?: string };
  if (algo.name === 'Ed25519') return 'EdDSA';
  if (algo.name === 'ECDSA' && algo.namedCurve === 'P-256') return 'ES256';
  return undefined;
}

/**
 * Issues and verifies short-lived JWTs bound to a user (`sub`), an audience (`aud`, e.g. the room)
 * and a `scope`, with a unique `jti`. `expiresAt` is what the UI counts down to, carried to the
 * millisecond in the `eat` claim; the JWT `exp` is `ceil((expiresAt + graceMs) / 1000)` seconds, so a
 * request sent in the last second of the UI timer still passes. A token verifies at time `t` iff
 * `t < exp × 1000 + clockToleranceSec × 1000`: always until `expiresAt + graceMs`, never from
 * `expiresAt + graceMs + 1000` on (plus the clock tolerance).
 * Verification is pinned to one algorithm (no `alg: none`, no HS/asymmetric confusion) and issuer.
 */
export class AccessTokens {
  /** The pinned algorithm. */
  readonly alg: AccessTokenAlgorithm;
  /** The issuer. */
  readonly issuer: string;
  readonly #signKey: KeyObject | CryptoKey | Uint8Array | undefined;
  readonly #verifyKey: KeyObject | CryptoKey | Uint8Array;
  /** HS256 through node:crypto (see Hs256: ~10× jose's WebCrypto); undefined with a key pair. */
  readonly #hs256: Hs256 | undefined;
  readonly #tolerance: number;

  constructor(options: AccessTokensOptions) {
    const o = check.mergeOptions('AccessTokens options', DEFAULTS, options);
    this.issuer = check.text('issuer', o.issuer, { maxBytes: 256, printable: true });
    this.#tolerance = check.integer('clockToleranceSec', o.clockToleranceSec, { max: 3600 });
    if (o.secret !== undefined) {
      if (o.privateKey !== undefined || o.publicKey !== undefined) {
        throw new TypeError('give either secret or privateKey/publicKey, not both');
      }
      const secret =
        typeof o.secret === 'string'
          ? new TextEncoder().encode(o.secret)
          : o.secret instanceof Uint8Array
            ? o.secret
            : undefined;
      if (!secret) throw new TypeError('secret must be a string or Uint8Array');
      if (secret.byteLength < 32) {
        throw new RangeError(`secret must be at least 32 bytes, got ${secret.byteLength}`);
      }
      const alg = check.oneOf('alg', o.alg ?? 'HS256', ['HS256', 'EdDSA', 'ES256']);
      if (alg !== 'HS256') throw new TypeError(`a secret signs with HS256 only, got alg '${alg}'`);
      this.alg = alg;
      this.#signKey = secret;
      this.#verifyKey = secret;
      this.#hs256 = new Hs256(secret);
      return;
    }
    if (o.privateKey === undefined && o.publicKey === undefined) {
      throw new TypeError('AccessTokens needs a secret (HS256) or privateKey/publicKey');
    }
    const priv = o.privateKey === undefined ? undefined : toPrivate(o.privateKey, 'privateKey');
    const pub =
      o.publicKey !== undefined
        ? toPublic(o.publicKey, 'publicKey')
        : priv instanceof KeyObject
          ? createPublicKey(priv)
          : undefined;
    if (!pub) throw new TypeError('publicKey is required when privateKey is a CryptoKey');
    const inferred = inferAlg(pub);
    const alg = check.oneOf('alg', o.alg ?? inferred, ['EdDSA', 'ES256', 'HS256']);
    if (alg === 'HS256') throw new TypeError('HS256 needs a secret, not a key pair');
    if (inferred !== alg) {
      throw new TypeError(
        `alg '${alg}' does not match the key type (${inferred ?? 'unsupported'})`,
      );
    }
    this.alg = alg;
    this.#signKey = priv;
    this.#verifyKey = pub;
    this.#hs256 = undefined;
  }

  /** Sign a token. */
  async issue(options: IssueOptions): Promise<IssuedToken> {
    const o = check.plainObject('issue options', options);
    const sub = check.text('sub', o.sub, { maxBytes: 1024, printable: true });
    const scope = check.text('scope', o.scope, { maxBytes: 256, printable: true });
    const aud = check.text('aud', o.aud, { maxBytes: 512, printable: true });
    const graceMs = check.integer('graceMs', o.graceMs ?? 0, { max: 86_400_000 });
    let expiresAt: number;
    if (o.expiresAt !== undefined) {
      if (o.ttlMs !== undefined) throw new TypeError('give ttlMs or expiresAt, not both');
      expiresAt = check.integer('expiresAt', o.expiresAt, { min: 1 });
    } else {
      expiresAt = Date.now() + check.integer('ttlMs', o.ttlMs, { min: 1, max: 2_592_000_000 });
    }
    const jti =
      o.jti === undefined
        ? randomUUID()
        : check.text('jti', o.jti, { maxBytes: 256, printable: true });
    const claims = check.plainObject('claims', o.claims);
    for (const key of Object.keys(claims)) {
      if (RESERVED.has(key))
        throw new TypeError(`claims must not set the registered claim '${key}'`);
    }
    if (!this.#signKey)
      throw new TypeError('this AccessTokens only verifies: it has no private key');
    // `exp` has whole-second granularity (RFC 7519 NumericDate); `eat` keeps the exact ms for the UI.
    const exp = Math.ceil((expiresAt + graceMs) / 1000);
    if (this.#hs256) {
      const iat = Math.floor(Date.now() / 1000);
      const payload = {
        ...claims,
        scope,
        eat: expiresAt,
        iss: this.issuer,
        sub,
        aud,
        jti,
        iat,
        exp,
      };
      return { token: this.#hs256.sign(payload), expiresAt, jti };
    }
    const token = await new SignJWT({ ...claims, scope, eat: expiresAt })
      .setProtectedHeader({ alg: this.alg, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(sub)
      .setAudience(aud)
      .setJti(jti)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.#signKey);
    return { token, expiresAt, jti };
  }

  /**
   * Verify signature, algorithm, issuer and expiry (with the grace), then `scope` and `aud`.
   * @throws {TokenInvalidError} 401: malformed, bad signature, wrong algorithm or issuer
   * @throws {TokenExpiredError} 401: past `expiresAt + grace`
   * @throws {TokenForbiddenError} 403: valid, but another scope, audience or subject
   */
  async verify(jwt: string, options: VerifyOptions): Promise<AccessClaims> {
    const o = check.plainObject('verify options', options);
    const scope = check.text('scope', o.scope, { maxBytes: 256 });
    const audience = check.text('audience', o.audience, { maxBytes: 512 });
    const subject = o.subject === undefined ? undefined : check.text('subject', o.subject);
    if (typeof jwt !== 'string' || jwt.length === 0) {
      throw new TokenInvalidError('TOKEN_MISSING', 'no token');
    }
    let payload: JWTPayload;
    try {
      payload = this.#hs256
        ? this.#hs256.verify(jwt, {
            issuer: this.issuer,
            required: REQUIRED,
            toleranceSec: this.#tolerance,
          })
        : (
            await jwtVerify(jwt, this.#verifyKey, {
              algorithms: [this.alg],
              issuer: this.issuer,
              clockTolerance: this.#tolerance,
              requiredClaims: REQUIRED,
            })
          ).payload;
    } catch (error) {
      throw refusal(error);
    }
    // jose checks that these claims are present, not their type; a token must never make a caller
    // fail with a TypeError further on.
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
      throw new TokenInvalidError('TOKEN_INVALID', 'invalid token: sub and jti must be strings');
    }
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!aud.includes(audience)) throw new TokenForbiddenError('aud', audience, payload.aud);
    if (payload.scope !== scope) throw new TokenForbiddenError('scope', scope, payload.scope);
    if (subject !== undefined && payload.sub !== subject) {
      throw new TokenForbiddenError('sub', subject, payload.sub);
    }
    const exp = (payload.exp as number) * 1000;
    // `uexp` (whole seconds): tokens signed by 0.1.0 before `eat` existed.
    const expiresAt = Number.isSafeInteger(payload.eat)
      ? (payload.eat as number)
      : typeof payload.uexp === 'number'
        ? payload.uexp * 1000
        : exp;
    return {
      sub: payload.sub as string,
      scope,
      aud: audience,
      jti: payload.jti as string,
      expiresAt,
      exp,
      payload,
    };
  }
}

function refusal(error: unknown): AccessTokenError {
  if (
    error instanceof jose.JWTExpired ||
    (error instanceof Hs256Error && error.reason === 'expired')
  ) {
    const exp = error instanceof Hs256Error ? error.exp : error.payload.exp;
    // A signed `exp` far outside the Date range (e.g. -1e13) is still just "expired".
    const at = typeof exp === 'number' ? new Date(exp * 1000) : undefined;
    return new TokenExpiredError(at && Number.isFinite(at.getTime()) ? at : undefined, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TokenInvalidError('TOKEN_INVALID', `invalid token: ${message}`, { cause: error });
}
