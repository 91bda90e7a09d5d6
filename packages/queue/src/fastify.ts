import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type AccessProblem,
  type AccessProblemBody,
  accessGate,
  problemHeaders,
  type RequireAccessOptions,
} from './access-gate.js';
import type { AccessClaims, AccessTokens } from './access-tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, set by `requireAccess` from `@boxoffice/queue/fastify`. */
    access?: AccessClaims;
  }
}

export type { AccessClaims, AccessProblem, AccessProblemBody };

/** What `requireAccess` checks in Fastify: `onProblem` receives the request and the reply. */
export type FastifyAccessOptions<Req extends FastifyRequest = FastifyRequest> =
  RequireAccessOptions<Req, FastifyReply>;

/** A Fastify hook, for a route's `onRequest` (before the body is read) or `preHandler`. */
export type AccessHook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * Fastify hook: requires `Authorization: Bearer <jwt>` valid for `scope` and `audience`, and
 * (unless `revocation: false`) still live in its room; the same check and answers as the Express
 * `requireAccess` of `@boxoffice/queue`. On success sets `request.access` to the
 * {@link AccessClaims}. Refusals are RFC 9457 `application/problem+json` (body shaped by
 * `onProblem` if given): 401 missing/invalid/expired/revoked (with `WWW-Authenticate`), 403 wrong
 * scope or audience. Other failures (e.g. Redis down while checking revocation) are thrown to
 * Fastify's error handling. `Req` types the request an `audience` function receives, e.g.
 * `FastifyRequest<{ Params: { id: string } }>`.
 * @throws TypeError / RangeError at construction for invalid options, a missing `revocation` included.
 */
export function requireAccess<Req extends FastifyRequest = FastifyRequest>(
  tokens: AccessTokens,
  options: FastifyAccessOptions<Req>,
): AccessHook {
  const gate = accessGate(tokens, options);
  return async (request, reply) => {
    let claims: AccessClaims;
    try {
      claims = await gate.verify(request);
    } catch (error) {
      const problem = gate.refusal(error);
      if (!problem) throw error;
      const body = await gate.body(problem, request, reply, () => reply.sent);
      if (body === undefined) return reply;
      // Returning the reply makes Fastify wait for the answer instead of running the route.
      return reply.code(problem.status).headers(problemHeaders(problem)).send(body);
    }
    request.access = claims;
  };
}
