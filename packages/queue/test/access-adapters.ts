// The two adapters of requireAccess behind one harness, so every behaviour in
// require-access.test.ts is asserted over real HTTP for Express and for Fastify alike.
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyReply } from 'fastify';
import { requireAccess as fastifyAccess } from '../src/fastify.js';
import {
  type AccessRequest,
  type AccessTokens,
  requireAccess as expressAccess,
  type RequireAccessOptions,
} from '../src/index.js';

/** Options as a test writes them: `req.params` for the audience, the adapter's own `res`. */
export type TestAccessOptions = RequireAccessOptions<AccessRequest, unknown>;

/** One guarded GET route. Its handler answers `{ sub, aud }` of the attached access. */
export interface AccessRoute {
  path: string;
  options: TestAccessOptions;
}

/** A running server with guarded routes. */
export interface AccessServer {
  url: string;
  /** Errors that reached the framework's error handling (answered 500). */
  errors: unknown[];
  /** How many times a route handler ran. */
  handled: number;
  close(): Promise<void>;
}

/** An adapter under test. */
export interface AccessAdapter {
  name: 'Express' | 'Fastify';
  /** The adapter's `requireAccess`, for construction checks. */
  requireAccess(tokens: AccessTokens, options: TestAccessOptions): unknown;
  serve(tokens: AccessTokens, routes: AccessRoute[]): Promise<AccessServer>;
  /** Sets a response header from an `onProblem` hook, the adapter's way. */
  setHeader(res: unknown, name: string, value: string): void;
}

const expressAdapter: AccessAdapter = {
  name: 'Express',
  requireAccess: (tokens, options) => expressAccess(tokens, options),
  async serve(tokens, routes) {
    const app = express();
    const state = { errors: [] as unknown[], handled: 0 };
    for (const { path, options } of routes) {
      app.get(path, expressAccess(tokens, options), (req, res) => {
        state.handled++;
        const access = res.locals.access as { sub: string; aud: string };
        // Both places are documented; they must hold the same claims.
        if ((req as { access?: unknown }).access !== access) throw new Error('req.access differs');
        res.json({ sub: access.sub, aud: access.aud });
      });
    }
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: unknown) => {
      state.errors.push(error);
      res.status(500).json({ error: 'server' });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    return Object.assign(state, {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    });
  },
  setHeader: (res, name, value) => {
    (res as express.Response).setHeader(name, value);
  },
};

const fastifyAdapter: AccessAdapter = {
  name: 'Fastify',
  requireAccess: (tokens, options) => fastifyAccess(tokens, options as never),
  async serve(tokens, routes) {
    const app = Fastify();
    const state = { errors: [] as unknown[], handled: 0 };
    for (const { path, options } of routes) {
      app.get(path, { onRequest: fastifyAccess(tokens, options as never) }, async (request) => {
        state.handled++;
        if (!request.access) throw new Error('request.access is not set');
        return { sub: request.access.sub, aud: request.access.aud };
      });
    }
    app.setErrorHandler((error, _request, reply) => {
      state.errors.push(error);
      return reply.code(500).send({ error: 'server' });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return Object.assign(state, { url: `http://127.0.0.1:${port}`, close: () => app.close() });
  },
  setHeader: (reply, name, value) => {
    (reply as FastifyReply).header(name, value);
  },
};

/** Express and Fastify, for `describe.each`. */
export const ADAPTERS: readonly AccessAdapter[] = [expressAdapter, fastifyAdapter];
