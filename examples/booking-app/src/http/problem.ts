import type { Request, Response } from 'express';

/** An RFC 9457 problem details body. `type` is a stable URN built from `code`. */
export interface Problem {
  status: number;
  code: string;
  title: string;
  detail?: string;
  [extension: string]: unknown;
}

/** Send `problem` as `application/problem+json`. */
export function sendProblem(res: Response, problem: Problem): void {
  const { code, ...rest } = problem;
  // The request's log line names it (observability/request-log.ts).
  res.locals.problemCode = code;
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: `urn:boxoffice:problem:${code}`, code, ...rest });
}

/**
 * The `instance` of a problem: the request's path without its query string, which may carry a
 * token (`?access_token=` for EventSource) that an error body must never echo.
 */
export function pathOf(req: Request): string {
  const url = req.originalUrl;
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}
