// The decision of the HTTP integrations (Express middleware, Fastify plugin), written once: which
// requests are guarded, where the key comes from, claim → run / replay / 409 / 422 / 503, and the
// problems with their `onProblem` shaping. An adapter only says how its framework runs the handler,
// sends bytes and reports errors.
import { check } from '@boxoffice/internal';
import { IdempotencyKeyInvalidError, IdempotencyStoreUnavailableError } from './errors.js';
import { defaultFingerprint } from './fingerprint.js';
import { HEADERS, httpDate } from './header.js';
import { type HeaderSource, type KeySource, keySource } from './key-source.js';
import type { Lease } from './lease.js';
import {
  defaultProblemBody,
  type IdempotencyProblem,
  PROBLEM_TYPES,
  type ProblemBody,
  type ProblemCode,
} from './problem.js';
import { IdempotencyStore, type StoredResult } from './store.js';
import { tracedClaim, tracedReplay, tracing } from './tracing.js';

/** Headers stored and replayed by default (plus those in `replayHeaders`). */
export const DEFAULT_REPLAY_HEADERS: readonly string[] = Object.freeze([
  'content-type',
  'content-language',
  'location',
  'etag',
  'last-modified',
  'cache-control',
]);

/**
 * Options of the HTTP integrations, over a framework's request and response types: Express's
 * `idempotency()` (`IdempotencyOptions`) and the Fastify plugin (`FastifyIdempotencyOptions`).
 */
export interface HttpIdempotencyOptions<Req, Res> {
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
   * Reads the key from elsewhere than a header (e.g. a body field: the body must be parsed first).
   * The result is taken as it is, no sf-string syntax: 1–255 printable ASCII characters;
   * `undefined` or `null` means no key. Not with `header`. @defaultValue undefined (the header)
   */
  key?: (req: Req) => unknown;
  /**
   * The caller a key belongs to, so one user can never replay another's response. Mind the
   * framework's trust-proxy setting behind a proxy. @defaultValue (req) => req.user?.id ?? req.ip
   */
  scope?: (req: Req) => string | number | null | undefined;
  /** Digest of the request; the same key with another fingerprint is answered 422. @defaultValue {@link defaultFingerprint} */
  fingerprint?: (req: Req) => string;
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
  onError?: (error: unknown, req: Req) => void;
  /**
   * Shapes the body of the integration's own problem responses (400, 409, 422, 503): receives the
   * problem before it is sent and may return a replacement JSON object (`undefined` keeps the
   * default body). The status and the integration's headers (`Content-Type`, `Retry-After`,
   * `Idempotency-Key-Expires`, …) stay; other headers may be set on the response. Must be
   * synchronous. If it throws or returns something unusable, the default body is sent and the
   * failure goes to `onError`. @defaultValue undefined (the default body)
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only sets headers returns nothing
  onProblem?: (problem: IdempotencyProblem, req: Req, res: Res) => ProblemBody | void;
}

/** What the guard reads of every framework's request. @internal */
export interface GuardedRequest extends HeaderSource {
  readonly method: string;
}

/** How one framework carries out the guard's decisions. @internal */
export interface Adapter<Req, Res, Next> {
  /** Run the handler unguarded. */
  pass(req: Req, res: Res, next: Next): void;
  /** Run the handler of a claimed key (its lease is being renewed) and capture its response. */
  run(lease: Lease, req: Req, res: Res, next: Next): void;
  /** Send a stored result (`body` empty: none). */
  replay(res: Res, status: number, headers: Record<string, string | string[]>, body: Buffer): void;
  /** Send a problem+json body with the guard's headers. */
  problem(res: Res, status: number, json: string, headers: Record<string, string>): void;
  /** True once the response was sent (an `onProblem` hook that answered by itself). */
  sent(res: Res): boolean;
  /** Hand an unexpected error to the framework. */
  fail(error: unknown, next: Next): void;
}

/** The validated options of one integration. @internal */
export interface GuardSettings<Req> {
  readonly store: IdempotencyStore;
  readonly keys: KeySource<Req>;
  readonly cache: (status: number) => boolean;
  readonly maxBodyBytes: number;
  /** Lower case, defaults first. */
  readonly replayHeaders: readonly string[];
  /** How long a stored result is kept, in ms (for `Idempotency-Key-Expires` before it is stored). */
  readonly retentionMs: number;
  readonly onError: (error: unknown, req: Req) => void;
}

const COMMON_DEFAULTS = Object.freeze({
  store: undefined as unknown as IdempotencyStore,
  required: true,
  header: undefined as string | undefined,
  key: undefined as ((req: never) => unknown) | undefined,
  fingerprint: defaultFingerprint as (req: never) => string,
  inFlight: 'reject' as 'reject' | 'wait',
  waitMs: 5_000,
  cache: (status: number) => status < 500,
  maxBodyBytes: 1_048_576,
  replayHeaders: [] as readonly string[],
  failOpen: false,
  handlerTimeoutMs: 60_000,
  onProblem: undefined as unknown,
  onError: (error: unknown): void => {
    process.emitWarning(error instanceof Error ? error : String(error), {
      code: 'BOXOFFICE_IDEMPOTENCY',
    });
  },
});

const PASS_THROUGH = new Set(['GET', 'HEAD', 'OPTIONS']);

function retryAfterSec(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
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

/** The headers of a stored result as they are replayed (the parsed object, added to). @internal */
export function replayedHeaders(result: StoredResult): Record<string, string | string[]> {
  const headers = result.headers;
  headers[HEADERS.replayed] = 'true';
  if (result.expiresAt > 0) headers[HEADERS.expires] = httpDate(result.expiresAt);
  // RFC 9110 §8.6: never with 204; with 304 only the length a 200 would have had, unknown here.
  if (result.status !== 204 && result.status !== 304) {
    headers['content-length'] = String(result.body.length);
  }
  return headers;
}

/**
 * The response headers to store: those of `replayHeaders` the response has. A body too large to
 * store is replayed as none, so it keeps no `content-type` and says `Idempotency-Body-Stored`.
 * @internal
 */
export function storedHeaders(
  replayHeaders: readonly string[],
  getHeader: (name: string) => unknown,
  oversize: boolean,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const name of replayHeaders) {
    const value = getHeader(name);
    if (value !== undefined)
      headers[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  if (oversize) {
    delete headers['content-type'];
    headers[HEADERS.bodyStored] = 'false';
  }
  return headers;
}

/** What `onError` gets when a lapsed owner's response could not be stored. @internal */
export function lostLeaseError(lease: Lease): Error {
  return new Error(
    `idempotency key ${JSON.stringify(lease.key)}: the lease lapsed and another request took the key over; this response was not stored`,
  );
}

/**
 * Validate an integration's options (merged over its `defaults` for `scope` and the like) and
 * return the settings its capture needs and the request handler that decides each request.
 * @internal
 */
export function requestGuard<Req extends GuardedRequest, Res, Next>(
  options: HttpIdempotencyOptions<Req, Res>,
  defaults: { scope: (req: Req) => string | number | null | undefined },
  adapter: Adapter<Req, Res, Next>,
): { settings: GuardSettings<Req>; handle: (req: Req, res: Res, next: Next) => void } {
  const o = check.mergeOptions('idempotency options', { ...COMMON_DEFAULTS, ...defaults }, options);
  if (!(o.store instanceof IdempotencyStore)) {
    throw new TypeError(`store must be an IdempotencyStore, got ${check.show(o.store)}`);
  }
  const { store } = o;
  check.boolean('required', o.required);
  const keys = keySource<Req>(o.header, o.key, o.required);
  const scopeOf = check.func<(req: Req) => string | number | null | undefined>('scope', o.scope);
  const fingerprintOf = check.func<(req: Req) => string>('fingerprint', o.fingerprint);
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
  const onError = check.func<(error: unknown, req: Req) => void>('onError', o.onError);
  if (o.onProblem !== undefined) check.func('onProblem', o.onProblem);
  const onProblem = o.onProblem as HttpIdempotencyOptions<Req, Res>['onProblem'];
  const waitMs = o.inFlight === 'wait' ? o.waitMs : 0;
  const { failOpen, handlerTimeoutMs } = o;
  // Renewal failures are reported with the request whose lease it is.
  const onRenewalError = (error: unknown, renewal: unknown) =>
    onError(error, (renewal as Lease).context as Req);

  const settings: GuardSettings<Req> = {
    store,
    keys,
    cache: o.cache,
    maxBodyBytes: o.maxBodyBytes,
    replayHeaders,
    retentionMs: store.options.retentionSec * 1000,
    onError,
  };
  return { settings, handle };

  function handle(req: Req, res: Res, next: Next): void {
    if (PASS_THROUGH.has(req.method)) {
      adapter.pass(req, res, next);
      return;
    }
    let key: string | undefined;
    try {
      key = keys.read(req);
    } catch (error) {
      if (!(error instanceof IdempotencyKeyInvalidError)) {
        adapter.fail(error, next);
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
      adapter.pass(req, res, next);
      return;
    }
    let scope: string;
    try {
      scope = String(scopeOf(req) ?? '');
    } catch (error) {
      adapter.fail(error, next);
      return;
    }
    let fingerprint: string;
    try {
      fingerprint = fingerprintOf(req);
    } catch (error) {
      if (fingerprintOf !== (defaultFingerprint as unknown)) {
        adapter.fail(error, next);
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
    const claimed = key;
    const claimOptions = { scope, fingerprint, waitMs };
    (tracing.on
      ? tracedClaim(key, scope !== '', () => store.claim(claimed, claimOptions))
      : store.claim(key, claimOptions)
    )
      .then(
        (claim) => {
          switch (claim.outcome) {
            case 'claimed':
              claim.lease.context = req;
              claim.lease.startRenewal(handlerTimeoutMs, onRenewalError);
              return adapter.run(claim.lease, req, res, next);
            case 'done': {
              const { result } = claim;
              const headers = replayedHeaders(result);
              if (!tracing.on) return adapter.replay(res, result.status, headers, result.body);
              const replay = () => adapter.replay(res, result.status, headers, result.body);
              return tracedReplay(claimed, result.status, replay);
            }
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
                  key: claimed,
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
                  key: claimed,
                  scope,
                  ...(claim.expiresAt > 0 ? { expiresAt: claim.expiresAt } : {}),
                },
                claim.expiresAt > 0 ? { [HEADERS.expires]: httpDate(claim.expiresAt) } : {},
              );
          }
        },
        (error: unknown) => {
          if (!(error instanceof IdempotencyStoreUnavailableError))
            return adapter.fail(error, next);
          if (failOpen) return adapter.pass(req, res, next);
          answer(
            req,
            res,
            503,
            'IDEMPOTENCY_STORE_UNAVAILABLE',
            {
              title: 'Idempotency store unavailable',
              detail: `the request was not processed because its ${keys.label} cannot be checked`,
              key: claimed,
              scope,
              retryAfterSec: 1,
              cause: error,
            },
            { 'retry-after': '1' },
          );
        },
      )
      // A throw while replaying or answering (e.g. a stored header Node refuses) goes to the framework.
      .catch((error: unknown) => adapter.fail(error, next));
  }

  // Sends one of the guard's own problems, shaped by `onProblem` when the app gave one. A hook
  // failure must never turn a 4xx/503 into a 500 or let the request through, so it falls back to
  // the default body.
  function answer(
    req: Req,
    res: Res,
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
        onError(
          new Error(`idempotency onProblem failed for ${code}; the default problem was sent`, {
            cause: error,
          }),
          req,
        );
      }
      // The hook answered by itself (not the contract, but nothing more can be sent).
      if (adapter.sent(res)) return;
    }
    adapter.problem(res, status, json, headers);
  }
}
