import type { Response } from 'express';

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
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({ type: `urn:boxoffice:problem:${code}`, code, ...rest });
}
