import type { ServerResponse } from 'node:http';
import type { KeyProblem } from './errors.js';

/** Stable problem types (RFC 9457 `type`) of the middleware's own responses, by `code`. */
export const PROBLEM_TYPES = Object.freeze({
  IDEMPOTENCY_KEY_INVALID: 'urn:boxoffice:problem:idempotency-key-invalid',
  IDEMPOTENCY_KEY_REUSED: 'urn:boxoffice:problem:idempotency-key-reused',
  IDEMPOTENCY_IN_FLIGHT: 'urn:boxoffice:problem:idempotency-in-flight',
  IDEMPOTENCY_STORE_UNAVAILABLE: 'urn:boxoffice:problem:idempotency-store-unavailable',
  IDEMPOTENCY_FINGERPRINT_FAILED: 'urn:boxoffice:problem:idempotency-fingerprint-failed',
});

/** Stable `code` of a problem the middleware answers with. */
export type ProblemCode = keyof typeof PROBLEM_TYPES;

/**
 * A problem the middleware answers with (frozen), as handed to the `onProblem` option before it is
 * sent. The default body is `{ type, title, status, detail, code }`; the other fields are context.
 */
export interface IdempotencyProblem {
  /** The HTTP status; an `onProblem` hook cannot change it. */
  readonly status: 400 | 409 | 422 | 503;
  readonly code: ProblemCode;
  /** `PROBLEM_TYPES[code]`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** `IDEMPOTENCY_KEY_INVALID` only: why the header was refused. */
  readonly reason?: KeyProblem;
  /** The parsed key (every problem but `IDEMPOTENCY_KEY_INVALID`). */
  readonly key?: string;
  /** The caller's scope (every problem but `IDEMPOTENCY_KEY_INVALID`). */
  readonly scope?: string;
  /** The `Retry-After` value sent, in seconds (409 and 503). */
  readonly retryAfterSec?: number;
  /** When the key's record expires (ms since the epoch), as sent in `Idempotency-Key-Expires` (409, and 422 when known). */
  readonly expiresAt?: number;
  /** The error behind the problem, if any (`IdempotencyKeyInvalidError`, `IdempotencyStoreUnavailableError`, a fingerprint error). */
  readonly cause?: unknown;
}

/** A JSON object sent as an `application/problem+json` body. */
export type ProblemBody = Record<string, unknown>;

/** The body the middleware sends for `problem` when no `onProblem` hook replaces it. */
export function defaultProblemBody(problem: IdempotencyProblem): ProblemBody {
  return {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
  };
}

/** Send a serialised `application/problem+json` body (RFC 9457) with extra headers. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  json: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
  });
  res.end(json);
}
