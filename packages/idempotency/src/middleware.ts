import { check } from '@boxoffice/internal';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { IdempotencyKeyInvalidError, IdempotencyStoreUnavailableError } from './errors.js';
import { defaultFingerprint } from './fingerprint.js';
import { HEADERS, httpDate } from './header.js';
import { keySource } from './key-source.js';
import {
  defaultProblemBody,
  type IdempotencyProblem,
  PROBLEM_TYPES,
  type ProblemBody,
  type ProblemCode,
  sendProblem,
} from './problem.js';
import { responseCapture } from './response-capture.js';
import { IdempotencyStore, type StoredResult } from './store.js';

/** Headers stored and replayed by default (plus those in `replayHeaders`). */
export const DEFAULT_REPLAY_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'location',
  'etag',
  'last-modified',
  'cache-control',
]);

/** Options of {@link idempotency}. */
export interface IdempotencyOptions {
  /** Where claims and results live. Required. */
  store: IdempotencyStore;
  /** Answer 400 when a request has no key; when false such requests pass through. @defaultValue true */
  required?: boolean;
  /**
   * The request header carrying the key (any case), parsed as an RFC 8941 sf-string or a bare
   * token. Not with `key`. @defaultValue 'Idempotency-Key'
   */
  header?: string;
  /**
   * Reads the key from elsewhere than a header (e.g. a body field: mount the body parser first).
   * The result is taken as it is, no sf-string syntax: 1–255 printable ASCII characters;
   * `undefined` or `null` means no key. Not with `header`. @defaultValue undefined (the header)
   */
  key?: (req: Request) => unknown;
  /**
   * The caller a key belongs to, so one user can never replay another's response. Mind Express's
   * `trust proxy` setting behind a proxy. @defaultValue (req) => req.user?.id ?? req.ip
   */
  scope?: (req: Request) => string | number | null | undefined;
  /** Digest of the request; the same key with another fingerprint is answered 422. @defaultValue {@link defaultFingerprint} */
  fingerprint?: (req: Request) => string;
  /** While the first request with a key runs: answer 409 at once, or wait for its result. @defaultValue 'reject' */
  inFlight?: 'reject' | 'wait';
  /** Longest wait in `'wait'` mode before answering 409. @defaultValue 5_000 */
  waitMs?: number;
  /** Which final statuses are stored and replayed; for the others the key is released so a retry runs again. @defaultValue (status) => status < 500 */
  cache?: (status: number) => boolean;
  /** Bodies larger than this are not stored (status and headers are; see README). @defaultValue 1_048_576 */
  maxBodyBytes?: number;
  /** Response headers to store and replay besides {@link DEFAULT_REPLAY_HEADERS} (case-insensitive). @defaultValue [] */
  replayHeaders?: readonly string[];
  /** When Redis is unreachable, run the handler unguarded instead of answering 503. @defaultValue false */
  failOpen?: boolean;
  /**
   * The lease is renewed while the handler runs, for at most this long; a handler that has not
   * responded by then loses its key once the lease lapses, and a retry may run. @defaultValue 60_000
   */
  handlerTimeoutMs?: number;
  /** Reports failures that cannot reach the client (storing a result, renewing a lease). @defaultValue process.emitWarning */
  onError?: (error: unknown, req: Request) => void;
  /**
   * Shapes the body of the middleware's own problem responses (400, 409, 422, 503): receives the
   * problem before it is sent and may return a replacement JSON object (`undefined` keeps the
   * default body). The status and the middleware's headers (`Content-Type`, `Retry-After`,
   * `Idempotency-Key-Expires`, …) stay; other headers may be set on `res`. Must be synchronous. If
   * it throws or returns something unusable, the default body is sent and the failure goes to
   * `onError`. @defaultValue undefined (the default body)
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only sets headers returns nothing
  onProblem?: (problem: IdempotencyProblem, req: Request, res: Response) => ProblemBody | void;
}

const DEFAULTS = Object.freeze({
  store: undefined as unknown as IdempotencyStore,
  required: true,
  header: undefined as string | undefined,
  key: undefined as IdempotencyOptions['key'],
  scope: (req: Request): string | number | null | undefined =>
    (req as Request & { user?: { id?: string | number } }).user?.id ?? clientAddress(req),
  fingerprint: defaultFingerprint as (req: Request) => string,
  inFlight: 'reject' as 'reject' | 'wait',
  waitMs: 5_000,
  cache: (status: number) => status < 500,
  maxBodyBytes: 1_048_576,
  replayHeaders: [] as readonly string[],
  failOpen: false,
  handlerTimeoutMs: 60_000,
  onProblem: undefined as IdempotencyOptions['onProblem'],
  onError: (error: unknown, _req: Request): void => {
    process.emitWarning(error instanceof Error ? error : String(error), {
      code: 'BOXOFFICE_IDEMPOTENCY',
    });
  },
});

/**
 * `req.ip`, without running proxy-addr on every request when Express's `trust proxy` is off (its
 * default): then `req.ip` is the socket's address.
 */
function clientAddress(req: Request): string | undefined {
  return req.app?.get('trust proxy') === false ? req.socket.remoteAddress : req.ip;
}

function serialiseShaped(body: unknown): string {
  if (
    typeof body !== 'object' ||
    Array.isArray(body) ||
    typeof (body as PromiseLike<unknown>).then === 'function'
  ) {
    throw new TypeError(
      `onProblem must return a plain object or undefined (synchronously), got ${check.show(body)}`,
    );
  }
  const json = JSON.stringify(body);
  if (typeof json !== 'string') throw new TypeError('onProblem returned a body JSON cannot encode');
  return json;
}

const PASS_THROUGH = new Set(['GET', 'HEAD', 'OPTIONS']);

function retryAfterSec(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Express middleware implementing the IETF `Idempotency-Key` header: the first request with a key
 * runs the handler and its response (status, allowlisted headers, body bytes) is stored; later
 * requests with the same key (per `scope`) get it replayed with `Idempotent-Replayed: true`,
 * without running the handler. 400 for a missing/malformed key, 422 for a key reused with another
 * payload, 409 (+ `Retry-After`) while the first request is in flight (or, in `'wait'` mode, its
 * result), 503 (+ `Retry-After`) when Redis is unreachable. `GET`, `HEAD` and `OPTIONS` pass through.
 */
export function idempotency(options: IdempotencyOptions): RequestHandler {
  const o = check.mergeOptions('idempotency options', DEFAULTS, options);
  if (!(o.store instanceof IdempotencyStore)) {
    throw new TypeError(`store must be an IdempotencyStore, got ${check.show(o.store)}`);
  }
  const { store } = o;
  check.boolean('required', o.required);
  const keys = keySource<Request>(o.header, o.key, o.required);
  check.func('scope', o.scope);
  check.func('fingerprint', o.fingerprint);
  check.oneOf('inFlight', o.inFlight, ['reject', 'wait']);
  check.integer('waitMs', o.waitMs, { max: 3_600_000 });
  check.func('cache', o.cache);
  check.integer('maxBodyBytes', o.maxBodyBytes, { max: 512 * 1_048_576 });
  if (!Array.isArray(o.replayHeaders)) {
    throw new TypeError(`replayHeaders must be an array, got ${check.show(o.replayHeaders)}`);
  }
  const replayHeaders = [
    ...new Set([
      ...DEFAULT_REPLAY_HEADERS,
      ...o.replayHeaders.map((h, i) =>
        check.text(`replayHeaders[${i}]`, h, { maxBytes: 256, printable: true }).toLowerCase(),
      ),
    ]),
  ];
  check.boolean('failOpen', o.failOpen);
  check.integer('handlerTimeoutMs', o.handlerTimeoutMs, { min: 1 });
  check.func('onError', o.onError);
  if (o.onProblem !== undefined) check.func('onProblem', o.onProblem);
  const { onProblem } = o;
  const waitMs = o.inFlight === 'wait' ? o.waitMs : 0;
  const guard = responseCapture({
    cache: o.cache,
    maxBodyBytes: o.maxBodyBytes,
    replayHeaders,
    retentionMs: store.options.retentionSec * 1000,
    handlerTimeoutMs: o.handlerTimeoutMs,
    onError: o.onError,
  });

  return function idempotencyMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (PASS_THROUGH.has(req.method)) {
      next();
      return;
    }
    let key: string | undefined;
    try {
      key = keys.read(req);
    } catch (error) {
      if (!(error instanceof IdempotencyKeyInvalidError)) {
        next(error);
        return;
      }
      answer(req, res, 400, 'IDEMPOTENCY_KEY_INVALID', {
        title: `${keys.label} ${error.reason === 'missing' ? 'missing' : 'malformed'}`,
        detail: error.message,
        reason: error.reason,
        cause: error,
      });
      return;
    }
    if (key === undefined) {
      next();
      return;
    }
    let scope: string;
    try {
      scope = String(o.scope(req) ?? '');
    } catch (error) {
      next(error);
      return;
    }
    let fingerprint: string;
    try {
      fingerprint = o.fingerprint(req);
    } catch (error) {
      if (o.fingerprint !== defaultFingerprint) {
        next(error);
        return;
      }
      // Only bad input makes the default fail (e.g. JSON nested deeper than the stack allows).
      answer(req, res, 400, 'IDEMPOTENCY_FINGERPRINT_FAILED', {
        title: 'Request cannot be fingerprinted',
        detail: (error as Error).message,
        key,
        scope,
        cause: error,
      });
      return;
    }
    store
      .claim(key, { scope, fingerprint, waitMs })
      .then(
        (claim) => {
          switch (claim.outcome) {
            case 'claimed':
              return guard(claim.lease, req, res, next);
            case 'done':
              return replay(res, claim.result);
            case 'busy': {
              const retryAfter = retryAfterSec(claim.retryAfterMs);
              return answer(
                req,
                res,
                409,
                'IDEMPOTENCY_IN_FLIGHT',
                {
                  title: 'Request in flight',
                  detail: `a request with this ${keys.label} is still being processed; retry later`,
                  key,
                  scope,
                  retryAfterSec: retryAfter,
                  expiresAt: claim.expiresAt,
                },
                {
                  'retry-after': String(retryAfter),
                  [HEADERS.expires]: httpDate(claim.expiresAt),
                },
              );
            }
            case 'mismatch':
              return answer(
                req,
                res,
                422,
                'IDEMPOTENCY_KEY_REUSED',
                {
                  title: `${keys.label} reused`,
                  detail: `this ${keys.label} was already used with a different request payload`,
                  key,
                  scope,
                  ...(claim.expiresAt > 0 ? { expiresAt: claim.expiresAt } : {}),
                },
                claim.expiresAt > 0 ? { [HEADERS.expires]: httpDate(claim.expiresAt) } : {},
              );
          }
        },
        (error: unknown) => {
          if (!(error instanceof IdempotencyStoreUnavailableError)) return next(error);
          if (o.failOpen) return next();
          answer(
            req,
            res,
            503,
            'IDEMPOTENCY_STORE_UNAVAILABLE',
            {
              title: 'Idempotency store unavailable',
              detail: `the request was not processed because its ${keys.label} cannot be checked`,
              key,
              scope,
              retryAfterSec: 1,
              cause: error,
            },
            { 'retry-after': '1' },
          );
        },
      )
      // A throw while replaying or answering (e.g. a stored header Node refuses) goes to Express.
      .catch(next);
  };

  // Sends one of the middleware's own problems, shaped by `onProblem` when the app gave one. A hook
  // failure must never turn a 4xx/503 into a 500 or let the request through, so it falls back to
  // the default body.
  function answer(
    req: Request,
    res: Response,
    status: IdempotencyProblem['status'],
    code: ProblemCode,
    fields: Omit<IdempotencyProblem, 'status' | 'code' | 'type'>,
    headers: Record<string, string> = {},
  ): void {
    const problem: IdempotencyProblem = Object.freeze({
      status,
      code,
      type: PROBLEM_TYPES[code],
      ...fields,
    });
    let json = JSON.stringify(defaultProblemBody(problem));
    if (onProblem !== undefined) {
      try {
        const shaped: unknown = onProblem(problem, req, res);
        if (shaped !== undefined && shaped !== null) json = serialiseShaped(shaped);
      } catch (error) {
        o.onError(
          new Error(`idempotency onProblem failed for ${code}; the default problem was sent`, {
            cause: error,
          }),
          req,
        );
      }
      // The hook answered by itself (not the contract, but nothing more can be sent).
      if (res.headersSent || res.writableEnded) return;
    }
    sendProblem(res, status, json, headers);
  }

  function replay(res: Response, result: StoredResult): void {
    // The parsed headers are this request's own object: add to it instead of copying it.
    const headers = result.headers;
    headers[HEADERS.replayed] = 'true';
    if (result.expiresAt > 0) headers[HEADERS.expires] = httpDate(result.expiresAt);
    // RFC 9110 §8.6: never with 204; with 304 only the length a 200 would have had, unknown here.
    if (result.status !== 204 && result.status !== 304) {
      headers['content-length'] = String(result.body.length);
    }
    res.writeHead(result.status, headers);
    res.end(result.body);
  }
}
