import {
  type AccessRequest,
  type AccessRequestHeaders,
  accessGate,
  problemHeaders,
  type RequireAccessOptions,
} from './access-gate.js';
import type { AccessTokens } from './access-tokens.js';

// Structural types, so the package does not depend on express or its types.

/** What `onProblem` receives as `res` by default: the Express response, structurally. */
export interface AccessResponse {
  /** Sets the status code of the answer. */
  status(code: number): unknown;
  /** Sets one header of the answer. */
  setHeader(name: string, value: string): unknown;
  /** Sends the answer, with `body` if given. */
  end(body?: string): unknown;
  locals?: Record<string, unknown>;
  headersSent?: boolean;
  writableEnded?: boolean;
}

/** An Express-compatible middleware. */
export type AccessMiddleware = (
  req: AccessRequestHeaders,
  res: AccessResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Express middleware: requires `Authorization: Bearer <jwt>` valid for `scope` and `audience`, and
 * (unless `revocation: false`) still live in its room. On success sets `req.access` and
 * `res.locals.access` to the {@link AccessClaims}. Refusals are RFC 9457
 * `application/problem+json` (body shaped by `onProblem` if given): 401 missing/invalid/expired/
 * revoked (with `WWW-Authenticate`), 403 wrong scope or audience. Other failures (e.g. Redis down
 * while checking revocation) go to `next(error)`. For Fastify: `@boxoffice/queue/fastify`.
 * @throws TypeError / RangeError at construction for invalid options, a missing `revocation` included.
 */
export function requireAccess<Req = AccessRequest, Res = AccessResponse>(
  tokens: AccessTokens,
  options: RequireAccessOptions<Req, Res>,
): AccessMiddleware {
  const gate = accessGate(tokens, options);
  const refuse = async (req: AccessRequestHeaders, res: AccessResponse, error: unknown) => {
    const problem = gate.refusal(error);
    if (!problem) throw error;
    const body = await gate.body(
      problem,
      req,
      res,
      () => res.headersSent === true || res.writableEnded === true,
    );
    if (body === undefined) return;
    for (const [name, value] of Object.entries(problemHeaders(problem))) res.setHeader(name, value);
    res.status(problem.status);
    res.end(body);
  };
  return (req, res, next) => {
    gate.verify(req).then(
      (claims) => {
        (req as AccessRequestHeaders & { access?: unknown }).access = claims;
        if (res.locals) res.locals.access = claims;
        next();
      },
      // Not a refusal, or a throw while answering (e.g. a hook that sent headers): Express's.
      (error: unknown) => refuse(req, res, error).catch(next),
    );
  };
}
