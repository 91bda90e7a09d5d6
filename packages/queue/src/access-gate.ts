import { check } from '@boxoffice/internal';
import type { AccessClaims, AccessTokens } from './access-tokens.js';
import {
  AccessTokenError,
  type AccessTokenErrorCode,
  TokenInvalidError,
  TokenRevokedError,
} from './errors.js';

/** What an `audience` function receives by default: the request, with Express route `params`. */
export interface AccessRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string>;
}

/**
 * A refusal of `requireAccess` (frozen), as handed to the `onProblem` option before it is sent.
 * The default body is `{ type, title, status, code, detail }`; `cause` is context.
 */
export interface AccessProblem {
  /** The HTTP status; an `onProblem` hook cannot change it. */
  readonly status: 401 | 403;
  /** `TOKEN_MISSING`, `TOKEN_INVALID`, `TOKEN_EXPIRED`, `TOKEN_REVOKED` or `TOKEN_FORBIDDEN`. */
  readonly code: AccessTokenErrorCode;
  /** `urn:boxoffice:queue:<code>`, e.g. `urn:boxoffice:queue:token-expired`. */
  readonly type: string;
  readonly title: 'Unauthorized' | 'Forbidden';
  readonly detail: string;
  /** The refusal behind the problem. */
  readonly cause: AccessTokenError;
}

/** A JSON object sent as an `application/problem+json` body. */
export type AccessProblemBody = Record<string, unknown>;

/**
 * What `requireAccess` checks, for Express (`@boxoffice/queue`) and Fastify
 * (`@boxoffice/queue/fastify`). `Req` is the request an `audience` or `onProblem` function
 * receives, `Res` the response (Express) or reply (Fastify) `onProblem` receives.
 */
export interface RequireAccessOptions<Req = AccessRequest, Res = unknown> {
  /** Required `scope`, e.g. `'queue_entry'`. */
  scope: string;
  /**
   * Required `aud`: a fixed string (e.g. the room id), or a function of the request returning it,
   * e.g. `(req) => req.params.id`, so one middleware serves `/concerts/:id/...`. A function that
   * throws or returns anything but a non-empty string (≤ 512 bytes), e.g. `undefined` for a route
   * without that parameter, is a server bug: the error goes to the framework's error handling
   * (500), never a 401/403.
   */
  audience: string | ((req: Req) => string | undefined);
  /**
   * Whether a token must still be live, not just validly signed. Pass the room that issued the
   * tokens (a `WaitingRoom`: its `isTokenActive` answers from Redis, one HGET per request), so
   * `complete()`, `leave()`, eviction and expiry revoke a token at once; with a per-request
   * audience, a checker that picks the room by `claims.aud`. `false` opts out: any unexpired
   * token passes, so a user who left or paid keeps access until `exp`. Required — there is no
   * silent stateless default.
   */
  revocation:
    | {
        /** Resolves true while the token with these claims is still live (not revoked). */
        isTokenActive(claims: AccessClaims): Promise<boolean>;
      }
    | false;
  /**
   * Shapes the body of the 401/403 answers: receives the problem before it is sent and may return
   * (or resolve to) a replacement JSON object; `undefined` keeps the default body. The status and
   * the package's headers (`Content-Type`, `WWW-Authenticate`) stay; other headers may be set on
   * `res`. If it throws, rejects or returns something unusable, the default body is sent and the
   * failure is reported with `process.emitWarning`. @defaultValue undefined (the default body)
   */
  onProblem?: (
    problem: AccessProblem,
    req: Req,
    res: Res,
  ) => // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only sets headers returns nothing
  AccessProblemBody | undefined | void | Promise<AccessProblemBody | undefined | void>;
}

/** The decision `requireAccess` makes, shared by its Express and Fastify adapters. */
export interface AccessGate {
  /**
   * The claims of the request's `Authorization: Bearer` token. Rejects with an
   * {@link AccessTokenError} for a refusal, with anything else for a server failure.
   */
  verify(req: AccessRequestHeaders): Promise<AccessClaims>;
  /** The problem to answer `error` with, or undefined when it is not a refusal. */
  refusal(error: unknown): AccessProblem | undefined;
  /**
   * The body to send for `problem`, shaped by `onProblem` when given, or undefined when the hook
   * answered by itself (`answered()` true after it).
   */
  body(
    problem: AccessProblem,
    req: unknown,
    res: unknown,
    answered: () => boolean,
  ): Promise<string | undefined>;
}

/** The headers every adapter reads the token from. */
export interface AccessRequestHeaders {
  headers: Record<string, string | string[] | undefined>;
}

/** The headers sent with `problem`, besides its status. */
export function problemHeaders(problem: AccessProblem): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json; charset=utf-8',
  };
  if (problem.status === 401) {
    headers['www-authenticate'] =
      `Bearer error="${problem.code === 'TOKEN_MISSING' ? 'invalid_request' : 'invalid_token'}"`;
  }
  return headers;
}

/**
 * Validates `requireAccess` options and returns the gate both adapters run.
 * @throws TypeError / RangeError for invalid options, a missing `revocation` included.
 */
export function accessGate(
  tokens: AccessTokens,
  options: RequireAccessOptions<never, never>,
): AccessGate {
  if (typeof tokens?.verify !== 'function') throw new TypeError('tokens must be an AccessTokens');
  const o = check.plainObject('requireAccess options', options);
  const scope = check.text('scope', o.scope, { maxBytes: 256 });
  let audienceOf: (req: unknown) => string;
  if (typeof o.audience === 'function') {
    const resolve = o.audience as (req: unknown) => unknown;
    audienceOf = (req) =>
      check.text('audience (returned by the audience function)', resolve(req), { maxBytes: 512 });
  } else {
    const fixed = check.text('audience (a string or a function (req) => string)', o.audience, {
      maxBytes: 512,
    });
    audienceOf = () => fixed;
  }
  const revocation = o.revocation as RequireAccessOptions['revocation'] | undefined;
  if (
    revocation !== false &&
    typeof (revocation as { isTokenActive?: unknown } | null | undefined)?.isTokenActive !==
      'function'
  ) {
    throw new TypeError(
      'revocation must be the WaitingRoom that issued the tokens (or an isTokenActive(claims) checker), or false to accept any unexpired token',
    );
  }
  const onProblem =
    o.onProblem === undefined
      ? undefined
      : check.func<(problem: AccessProblem, req: unknown, res: unknown) => unknown>(
          'onProblem',
          o.onProblem,
        );

  return {
    async verify(req) {
      const header = req.headers.authorization;
      const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match)
        throw new TokenInvalidError('TOKEN_MISSING', 'an Authorization: Bearer token is required');
      const claims = await tokens.verify(match[1] as string, { scope, audience: audienceOf(req) });
      if (revocation && !(await revocation.isTokenActive(claims))) {
        throw new TokenRevokedError(claims.jti);
      }
      return claims;
    },

    refusal(error) {
      if (!(error instanceof AccessTokenError)) return undefined;
      return Object.freeze({
        status: error.status,
        code: error.code,
        type: `urn:boxoffice:queue:${error.code.toLowerCase().replaceAll('_', '-')}`,
        title: error.status === 401 ? 'Unauthorized' : 'Forbidden',
        detail: error.message,
        cause: error,
      });
    },

    // A hook failure must never turn a 401/403 into a 500 or let the request through, so it falls
    // back to the default body.
    async body(problem, req, res, answered) {
      const fallback = JSON.stringify({
        type: problem.type,
        title: problem.title,
        status: problem.status,
        code: problem.code,
        detail: problem.detail,
      });
      if (onProblem === undefined) return fallback;
      let json = fallback;
      try {
        const shaped = await onProblem(problem, req, res);
        if (shaped !== undefined && shaped !== null) json = serialise(shaped);
      } catch (error) {
        process.emitWarning(
          new Error(
            `requireAccess onProblem failed for ${problem.code}; the default problem was sent`,
            {
              cause: error,
            },
          ),
          { code: 'BOXOFFICE_QUEUE' },
        );
      }
      // The hook answered by itself (not the contract, but nothing more can be sent).
      return answered() ? undefined : json;
    },
  };
}

function serialise(body: unknown): string {
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new TypeError(
      `onProblem must return a plain object or undefined, got ${check.show(body)}`,
    );
  }
  const json = JSON.stringify(body);
  if (typeof json !== 'string') throw new TypeError('onProblem returned a body JSON cannot encode');
  return json;
}
