import type { Request, Response } from 'express';

/** An RFC 9457 problem details body. `type` is a stable URN built from `code`. */
export interface Problem {
  status: number;
  code: string;
  title: string;
  detail?: string;
  [extension: string]: unknown;
}

/** The body of `problem`: its fields with `type` = `urn:boxoffice:problem:<code>`. */
export function problemBody(problem: Problem): Record<string, unknown> {
  const { code, ...rest } = problem;
  return { type: `urn:boxoffice:problem:${code}`, code, ...rest };
}

/** Send `problem` as `application/problem+json`. */
export function sendProblem(res: Response, problem: Problem): void {
  // The request's log line names it (observability/request-log.ts).
  res.locals.problemCode = problem.code;
  res.status(problem.status).type('application/problem+json').json(problemBody(problem));
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
