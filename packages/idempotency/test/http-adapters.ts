// The two HTTP integrations behind one test API, so that one behavioural suite asserts every
// behaviour of the Express middleware and of the Fastify plugin, over real HTTP. A route is a
// path, its idempotency options (one or more stacked guards) and a handler written against `Ctx`,
// which each adapter maps onto its framework's response API.
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import express from 'express';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { afterEach } from 'vitest';
import { idempotency as fastifyIdempotency } from '../src/fastify.js';
import { type HttpIdempotencyOptions, idempotency } from '../src/index.js';

/** What a handler can do, in either framework. */
export interface Ctx {
  // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON body, as handlers use it
  readonly body: any;
  header(name: string): string | undefined;
  status(code: number): Ctx;
  set(name: string, value: string): Ctx;
  json(value: unknown): void;
  /** Send no body. */
  end(): void;
  /** `text/plain` body written in pieces, `delayMs` apart. */
  stream(chunks: (string | Buffer)[], delayMs: number): Promise<void>;
  /** Hand an error to the framework's error handling. */
  fail(error: Error): void;
}

// biome-ignore lint/suspicious/noExplicitAny: each adapter passes its own request and response
export type GuardOptions = HttpIdempotencyOptions<any, any>;

/** One route under test. */
export interface Route {
  path: string;
  /** The guards in order (several: stacked middlewares / plugins). */
  guard: GuardOptions | GuardOptions[];
  handler: (ctx: Ctx) => unknown;
  /** Every method, not only POST. */
  all?: boolean;
  /** Largest JSON body accepted, in bytes. @defaultValue 2 MiB */
  bodyLimit?: number;
  /** Set `req.user = { id: <x-user header> }` before the guard. */
  user?: boolean;
}

/** One framework under test. */
export interface HttpAdapter {
  readonly name: 'express' | 'fastify';
  /**
   * Serve `routes` on a free port (closed after the test). Requests get ids `req-<n>` (`req.id`);
   * with `teapot`, errors that reach the app's error handling are answered 418 `{ appError }`.
   */
  serve(routes: Route[], options?: { teapot?: boolean }): Promise<{ url: string }>;
  /** Set a response header from an `onProblem` hook. */
  setHeader(res: unknown, name: string, value: string): void;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const guards = (route: Route) => (Array.isArray(route.guard) ? route.guard : [route.guard]);

const expressAdapter: HttpAdapter = {
  name: 'express',
  setHeader: (res, name, value) => (res as express.Response).setHeader(name, value),
  async serve(routes, options = {}) {
    const app = express();
    let requests = 0;
    app.use((req, _res, next) => {
      (req as express.Request & { id?: string }).id = `req-${++requests}`;
      next();
    });
    for (const route of routes) {
      const stack: express.RequestHandler[] = [express.json({ limit: route.bodyLimit ?? 2 ** 21 })];
      if (route.user) {
        stack.push((req, _res, next) => {
          (req as unknown as { user: { id: string } }).user = { id: String(req.headers['x-user']) };
          next();
        });
      }
      for (const g of guards(route)) stack.push(idempotency(g));
      const handler: express.RequestHandler = async (req, res, next) => {
        const ctx: Ctx = {
          body: req.body,
          header: (name) => req.get(name),
          status(code) {
            res.status(code);
            return ctx;
          },
          set(name, value) {
            res.set(name, value);
            return ctx;
          },
          json: (value) => res.json(value),
          end: () => res.end(),
          async stream(chunks, delayMs) {
            res.writeHead(200, { 'content-type': 'text/plain' });
            for (const chunk of chunks) {
              res.write(chunk);
              await sleep(delayMs);
            }
            res.end();
          },
          fail: (error) => next(error),
        };
        await route.handler(ctx);
      };
      if (route.all) app.all(route.path, ...stack, handler);
      else app.post(route.path, ...stack, handler);
    }
    if (options.teapot) {
      app.use(
        (
          error: Error,
          _req: express.Request,
          res: express.Response,
          _next: express.NextFunction,
        ) => {
          res.status(418).json({ appError: error.message });
        },
      );
    }
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  },
};

const fastifyAdapter: HttpAdapter = {
  name: 'fastify',
  setHeader: (reply, name, value) => (reply as FastifyReply).header(name, value),
  async serve(routes, options = {}) {
    let requests = 0;
    const app = Fastify({ bodyLimit: 2 ** 21, genReqId: () => `req-${++requests}` });
    if (options.teapot) {
      app.setErrorHandler((error: Error, _request, reply) => {
        reply.code(418).send({ appError: error.message });
      });
    }
    for (const route of routes) {
      // Each route in a scope of its own: the plugin guards the scope it is registered in.
      app.register(async (scope) => {
        if (route.user) {
          scope.addHook('onRequest', async (request) => {
            (request as unknown as { user: { id: string } }).user = {
              id: String(request.headers['x-user']),
            };
          });
        }
        for (const g of guards(route)) await scope.register(fastifyIdempotency, g);
        scope.route({
          method: route.all ? ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] : 'POST',
          url: route.path,
          ...(route.bodyLimit === undefined ? {} : { bodyLimit: route.bodyLimit }),
          handler: async (request: FastifyRequest, reply: FastifyReply) => {
            const ctx: Ctx = {
              body: request.body,
              header: (name) => request.headers[name.toLowerCase()] as string | undefined,
              status(code) {
                reply.code(code);
                return ctx;
              },
              set(name, value) {
                reply.header(name, value);
                return ctx;
              },
              json: (value) => reply.send(value),
              end: () => reply.send(),
              async stream(chunks, delayMs) {
                async function* pieces() {
                  for (const chunk of chunks) {
                    yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
                    await sleep(delayMs);
                  }
                }
                reply.header('content-type', 'text/plain').send(Readable.from(pieces()));
              },
              fail: (error) => reply.send(error),
            };
            await route.handler(ctx);
            return reply;
          },
        });
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(async () => {
      app.server.closeAllConnections();
      await app.close();
    });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  },
};

/** Both integrations, for `describe.each`. */
export const httpAdapters: HttpAdapter[] = [expressAdapter, fastifyAdapter];
