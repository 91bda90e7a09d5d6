import type { ServerResponse } from 'node:http';

/** Stable problem types (RFC 9457 `type`) of the middleware's own responses. */
export const PROBLEM_TYPES = Object.freeze({
  IDEMPOTENCY_KEY_INVALID: 'urn:boxoffice:problem:idempotency-key-invalid',
  IDEMPOTENCY_KEY_REUSED: 'urn:boxoffice:problem:idempotency-key-reused',
  IDEMPOTENCY_IN_FLIGHT: 'urn:boxoffice:problem:idempotency-in-flight',
  IDEMPOTENCY_STORE_UNAVAILABLE: 'urn:boxoffice:problem:idempotency-store-unavailable',
  IDEMPOTENCY_FINGERPRINT_FAILED: 'urn:boxoffice:problem:idempotency-fingerprint-failed',
});

/** A problem the middleware answers with. */
export interface Problem {
  status: number;
  code: keyof typeof PROBLEM_TYPES;
  title: string;
  detail: string;
}

/** Send an `application/problem+json` response (RFC 9457) with extra headers. */
export function sendProblem(
  res: ServerResponse,
  problem: Problem,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({
    type: PROBLEM_TYPES[problem.code],
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
  });
  res.writeHead(problem.status, {
    ...headers,
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
