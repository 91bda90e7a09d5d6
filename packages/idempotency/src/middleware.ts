import { check } from '@boxoffice/internal';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type IdempotencyKeyInvalidError, IdempotencyStoreUnavailableError } from './errors.js';
import { defaultFingerprint } from './fingerprint.js';
import { parseIdempotencyKey } from './header.js';
import type { Lease } from './lease.js';
import {
  defaultProblemBody,
  type IdempotencyProblem,
  PROBLEM_TYPES,
  type ProblemBody,
  type ProblemCode,
  sendProblem,
} from './problem.js';
import { IdempotencyStore, type StoredResult } from './store.js';

/** Response headers the middleware sets. */
export const HEADERS = Object.freeze({
  /** Request header carrying the key. */
  key: 'idempotency-key',
  /** On replays: `true`. */
  replayed: 'idempotent-replayed',
  /** When the key's record expires (HTTP-date), on every response to a request with a valid key. */
  expires: 'idempotency-key-expires',
  /** `false` when the response body was too large to store (replays then carry no body). */
  bodyStored: 'idempotency-body-stored',
});

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
  /** Answer 400 when a request has no `Idempotency-Key`; when false such requests pass through. @defaultValue true */
  required?: boolean;
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

type Chunk = string | Uint8Array | null | undefined;

// An HTTP-date has a resolution of one second: the last one formatted is reused.
let dateSecond = Number.NaN;
let dateText = '';

function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    dateText = new Date(second * 1000).toUTCString();
    dateSecond = second;
  }
  return dateText;
}

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
  const retentionMs = store.options.retentionSec * 1000;
  // The handler's response is recorded through three replaced methods of `res`; they are created
  // once per middleware (not per request) and find the request's state on `res[capture]` (a symbol
  // of this middleware, so two stacked middlewares each see their own).
  const capture = Symbol('idempotency capture');
  type Captured = Response & { [capture]: Capture };
  // Renewal failures are reported with the request whose lease it is.
  const onRenewalError = (error: unknown, renewal: unknown) =>
    o.onError(error, (renewal as Lease).context as Request);

  return function idempotencyMiddleware(req: Request, res: Response, next: NextFunction): void {
    if (PASS_THROUGH.has(req.method)) {
      next();
      return;
    }
    const header = req.headers[HEADERS.key];
    if (header === undefined && !o.required) {
      next();
      return;
    }
    let key: string;
    try {
      key = parseIdempotencyKey(header);
    } catch (error) {
      const e = error as IdempotencyKeyInvalidError;
      answer(req, res, 400, 'IDEMPOTENCY_KEY_INVALID', {
        title: e.reason === 'missing' ? 'Idempotency-Key missing' : 'Idempotency-Key malformed',
        detail: e.message,
        reason: e.reason,
        cause: e,
      });
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
                  detail: `a request with this Idempotency-Key is still being processed; retry later`,
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
                  title: 'Idempotency-Key reused',
                  detail: 'this Idempotency-Key was already used with a different request payload',
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
              detail: 'the request was not processed because its Idempotency-Key cannot be checked',
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

  // --- Response capture (see `guard` below).
  // Records what the handler sends and, before the response completes, stores it (or releases the
  // key). Storing before the last byte leaves means a client that saw the response can only be
  // answered with its replay, never with a 409.
  function guard(lease: Lease, req: Request, res: Response, next: NextFunction): void {
    lease.context = req;
    lease.startRenewal(o.handlerTimeoutMs, onRenewalError);
    (res as Captured)[capture] = {
      lease,
      req,
      maxBytes: o.maxBodyBytes,
      first: undefined,
      rest: undefined,
      size: 0,
      oversize: false,
      ended: false,
      writeHead: res.writeHead,
      write: res.write,
      end: res.end,
      chunk: undefined,
      encoding: undefined,
      cb: undefined,
    };
    res.writeHead = captureWriteHead as Response['writeHead'];
    res.write = captureWrite as Response['write'];
    res.end = captureEnd as Response['end'];
    next();
  }

  function captureWriteHead(this: Captured, status: number, ...rest: unknown[]): Response {
    const s = this[capture];
    if (!o.cache(status)) {
      this.removeHeader(HEADERS.expires);
    } else {
      // Until the result is stored, the expiry counts from when the key was claimed: slightly
      // early, never late. Once stored, the exact time is already set.
      if (!this.hasHeader(HEADERS.expires)) {
        this.setHeader(HEADERS.expires, httpDate(s.lease.renewStartedAt + retentionMs));
      }
      if (Number(this.getHeader('content-length')) > o.maxBodyBytes) {
        this.setHeader(HEADERS.bodyStored, 'false');
      }
    }
    return (s.writeHead as (...args: unknown[]) => Response).call(this, status, ...rest);
  }

  function captureWrite(this: Captured, chunk: Chunk, encoding?: unknown, cb?: unknown): boolean {
    const s = this[capture];
    if (!s.ended) record(s, chunk, typeof encoding === 'string' ? encoding : undefined);
    return (s.write as (...args: unknown[]) => boolean).call(this, chunk, encoding, cb);
  }

  function captureEnd(this: Captured, chunk?: unknown, encoding?: unknown, cb?: unknown): Response {
    const s = this[capture];
    if (typeof chunk === 'function') {
      cb = chunk;
      chunk = undefined;
      encoding = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (s.ended) return callEnd(this, s.end, chunk, encoding, cb);
    s.ended = true;
    s.lease.stopRenewal();
    s.chunk = chunk;
    s.encoding = encoding;
    s.cb = cb;
    try {
      record(s, chunk as Chunk, typeof encoding === 'string' ? encoding : undefined);
      settle(this, s);
    } catch (error) {
      failed(this, s, error);
    }
    return this;
  }

  function settle(res: Captured, s: Capture): void {
    const status = res.statusCode;
    if (!o.cache(status)) {
      s.lease.release().then(
        () => finish(res, s),
        (error: unknown) => failed(res, s, error),
      );
      return;
    }
    const headers: Record<string, string | string[]> = {};
    for (const name of replayHeaders) {
      const value = res.getHeader(name);
      if (value !== undefined)
        headers[name] = Array.isArray(value) ? value.map(String) : String(value);
    }
    if (s.oversize) {
      // The operation happened, so the key must not run again; its replay carries no body.
      delete headers['content-type'];
      headers[HEADERS.bodyStored] = 'false';
      if (!res.headersSent) res.setHeader(HEADERS.bodyStored, 'false');
    }
    s.lease.completeUnchecked(status, JSON.stringify(headers), bodyOf(s)).then(
      (expiresAt) => stored(res, s, expiresAt),
      (error: unknown) => failed(res, s, error),
    );
  }

  function stored(res: Captured, s: Capture, expiresAt: number | null): void {
    try {
      if (expiresAt === null) {
        o.onError(
          new Error(
            `idempotency key ${JSON.stringify(s.lease.key)}: the lease lapsed and another request took the key over; this response was not stored`,
          ),
          s.req,
        );
      } else if (!res.headersSent) {
        res.setHeader(HEADERS.expires, httpDate(expiresAt));
      }
    } catch (error) {
      failed(res, s, error);
      return;
    }
    finish(res, s);
  }

  function failed(res: Captured, s: Capture, error: unknown): void {
    o.onError(error, s.req);
    finish(res, s);
  }

  function finish(res: Captured, s: Capture): void {
    callEnd(res, s.end, s.chunk, s.encoding, s.cb);
  }
}

/** What the middleware records of one response (kept on `res`). */
interface Capture {
  readonly lease: Lease;
  readonly req: Request;
  /** `maxBodyBytes`: larger bodies are not stored. */
  readonly maxBytes: number;
  /** The first body chunk: a UTF-8 string as given (no copy), or bytes. */
  first: Buffer | string | undefined;
  /** Further chunks, as bytes. */
  rest: Buffer[] | undefined;
  size: number;
  oversize: boolean;
  ended: boolean;
  readonly writeHead: Response['writeHead'];
  readonly write: Response['write'];
  readonly end: Response['end'];
  /** The arguments of the handler's `res.end`, passed on once the result is stored. */
  chunk: unknown;
  encoding: unknown;
  cb: unknown;
}

function isUtf8Encoding(encoding: string | undefined): boolean {
  return encoding === undefined || encoding === 'utf8' || encoding === 'utf-8';
}

function record(s: Capture, chunk: Chunk, encoding: string | undefined): void {
  if (chunk == null || s.oversize) return;
  let piece: Buffer | string;
  let bytes: number;
  if (typeof chunk === 'string') {
    if (isUtf8Encoding(encoding)) {
      piece = chunk;
      bytes = Buffer.byteLength(chunk, 'utf8');
    } else {
      piece = Buffer.from(chunk, encoding as BufferEncoding);
      bytes = piece.length;
    }
  } else {
    piece = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    bytes = piece.length;
  }
  s.size += bytes;
  if (s.size > s.maxBytes) {
    s.oversize = true;
    s.first = undefined;
    s.rest = undefined;
  } else if (s.first === undefined) {
    s.first = piece;
  } else {
    if (s.rest === undefined) s.rest = [];
    s.rest.push(typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
  }
}

/** The recorded body: the single chunk as it came, or all chunks joined. */
function bodyOf(s: Capture): Buffer | string {
  if (s.oversize || s.first === undefined) return '';
  if (s.rest === undefined) return s.first;
  const first = typeof s.first === 'string' ? Buffer.from(s.first, 'utf8') : s.first;
  return Buffer.concat([first, ...s.rest]);
}

/** Call `res.end` with exactly the arguments the handler gave (wrappers may count them). */
function callEnd(
  res: Response,
  end: Response['end'],
  chunk: unknown,
  encoding: unknown,
  cb: unknown,
): Response {
  const f = end as (...args: unknown[]) => Response;
  if (chunk === undefined) return cb === undefined ? f.call(res) : f.call(res, cb);
  if (encoding === undefined) return cb === undefined ? f.call(res, chunk) : f.call(res, chunk, cb);
  return cb === undefined ? f.call(res, chunk, encoding) : f.call(res, chunk, encoding, cb);
}
