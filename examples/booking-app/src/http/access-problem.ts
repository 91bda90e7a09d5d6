import type { AccessProblem } from '@boxoffice/queue';
import type { Request, Response } from 'express';
import { bearerToken, type UserVerifier } from '../auth/require-user.js';
import { type HttpError, NotAdmittedError, UnauthorizedError } from '../errors.js';
import { problemOf, toHttpError } from './error-handler.js';
import { problemBody } from './problem.js';

/**
 * The `onProblem` hook of a `requireAccess` guard: its 401/403 answers get the app's problem+json
 * (lower-case dashed `code`, `instance`, `requestId`, as the error handler's), an Authorization
 * header that is not `Bearer <token>` is `token-invalid` as for user tokens, and the user's own
 * token sent instead of a `queue_entry` token is `not-admitted` to `concertIdOf(req)`: it is
 * refused for its signature, which would tell the user nothing.
 */
export function accessProblem(users: UserVerifier, concertIdOf: (req: Request) => number) {
  return async (problem: AccessProblem, req: Request, res: Response) => {
    const known = await refusal(problem, req, users, concertIdOf);
    res.locals.problemCode = known.code; // named in the request's log line, as sendProblem does
    return problemBody(problemOf(known, req));
  };
}

async function refusal(
  problem: AccessProblem,
  req: Request,
  users: UserVerifier,
  concertIdOf: (req: Request) => number,
): Promise<HttpError> {
  const token = bearerToken(req);
  if (token instanceof UnauthorizedError) return toHttpError(token) as HttpError;
  const isUserToken = await users.verify(token).then(
    () => true,
    () => false,
  );
  if (isUserToken) return toHttpError(new NotAdmittedError(concertIdOf(req))) as HttpError;
  return toHttpError(problem.cause) as HttpError;
}
