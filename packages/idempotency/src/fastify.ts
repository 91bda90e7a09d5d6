// @boxoffice/idempotency/fastify: the Express middleware's behaviour as a Fastify plugin, on the
// same store and the same decision logic (guard.ts). The key is claimed in `preHandler` (after body
// parsing and validation, so a refused body leaves the key unused) and the response is captured in
// `onSend`, where Fastify hands over the serialised payload: it is stored before any byte leaves.
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import {
  type Adapter,
  type GuardSettings,
  type HttpIdempotencyOptions,
  lostLeaseError,
  requestGuard,
  storedHeaders,
} from './guard.js';
import { HEADERS, httpDate } from './header.js';
import type { Lease } from './lease.js';
import { captureStream, isNodeStream, isWebStream } from './stream-capture.js';

/** Options of the Fastify plugin: {@link HttpIdempotencyOptions} over Fastify's request and reply. */
export type FastifyIdempotencyOptions = HttpIdempotencyOptions<FastifyRequest, FastifyReply>;

type Leased = FastifyRequest & Record<symbol, Lease | null>;

const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';

/**
 * Fastify plugin implementing the IETF `Idempotency-Key` header with the Express middleware's
 * behaviour: the first request with a key runs the handler and its reply (status, allowlisted
 * headers, payload bytes) is stored; later requests with the key (per `scope`) get it replayed with
 * `Idempotent-Replayed: true`, without running the handler; 400 / 409 / 422 / 503 problems as
 * problem+json. It guards the routes of the context it is registered in (it is not encapsulated):
 * register it inside a `register()` scope to guard only that scope's routes.
 */
export const idempotency: FastifyPluginCallback<FastifyIdempotencyOptions> = (
  fastify: FastifyInstance,
  options: FastifyIdempotencyOptions,
  done: (error?: Error) => void,
) => {
  // Fastify hands every plugin an options object of its own; the guard wants only the user's.
  const lease = Symbol('idempotency lease');
  const adapter: Adapter<FastifyRequest, FastifyReply, HookHandlerDoneFunction> = {
    pass: (_request, _reply, next) => next(),
    run(claimed, request, _reply, next) {
      (request as Leased)[lease] = claimed;
      next();
    },
    replay(reply, status, headers, body) {
      reply.code(status).headers(headers);
      // An empty payload keeps Fastify from adding a content-type of its own.
      reply.send(body.length === 0 ? undefined : body);
    },
    problem(reply, status, json, headers) {
      reply
        .code(status)
        .headers(headers)
        .header('content-type', PROBLEM_TYPE)
        .header('cache-control', 'no-store')
        .send(json);
    },
    sent: (reply) => reply.sent,
    fail: (error, next) => next(error as Error),
  };
  let guard: ReturnType<typeof requestGuard<FastifyRequest, FastifyReply, HookHandlerDoneFunction>>;
  try {
    guard = requestGuard(userOptions(options), FASTIFY_DEFAULTS, adapter);
  } catch (error) {
    done(error as Error);
    return;
  }
  const { settings, handle } = guard;
  fastify.decorateRequest(lease, null);
  fastify.addHook('preHandler', (request, reply, next) => {
    handle(request, reply, next);
  });
  fastify.addHook('onSend', (request, reply, payload, next) => {
    const claimed = (request as Leased)[lease];
    if (claimed === null || claimed === undefined) {
      next(null, payload);
      return;
    }
    (request as Leased)[lease] = null;
    claimed.stopRenewal();
    capture(settings, claimed, request, reply, payload).then(
      (sent) => next(null, sent),
      (error: unknown) => next(error as Error),
    );
  });
  done();
};

// Marks the plugin as not encapsulated (what fastify-plugin does), so its hooks apply to the
// context it is registered in.
Object.assign(idempotency, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@boxoffice/idempotency',
  [Symbol.for('plugin-meta')]: { name: '@boxoffice/idempotency', fastify: '5.x' },
});

const FASTIFY_DEFAULTS = Object.freeze({
  scope: (request: FastifyRequest): string | number | null | undefined =>
    (request as FastifyRequest & { user?: { id?: string | number } }).user?.id ?? request.ip,
});

/** The user's options without what Fastify adds to a plugin's options object (`prefix`, …). */
function userOptions(options: FastifyIdempotencyOptions): FastifyIdempotencyOptions {
  const {
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _serializers,
    ...own
  } = options as FastifyIdempotencyOptions & Record<string, unknown>;
  return own as FastifyIdempotencyOptions;
}

/**
 * Store the reply of a claimed key (or release the key when its status is not cached) and resolve
 * with the payload to send. A stream payload is passed through a recorder that stores the body
 * when the stream ends, before its end goes out.
 */
async function capture(
  o: GuardSettings<FastifyRequest>,
  claimed: Lease,
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
): Promise<unknown> {
  const status = reply.statusCode;
  if (!o.cache(status)) {
    try {
      await claimed.release();
    } catch (error) {
      o.onError(error, request);
    }
    return payload;
  }
  if (isNodeStream(payload) || isWebStream(payload)) {
    // Sent before the body is known: the expiry counts from the claim (slightly early, never late).
    reply.header(HEADERS.expires, httpDate(claimed.renewStartedAt + o.retentionMs));
    const recorded = captureStream(payload, o.maxBodyBytes, (body, oversize) =>
      store(o, claimed, request, reply, status, body, oversize),
    );
    // A body that never ended was not the handler's answer: a retry runs again.
    recorded.once('error', () => {
      claimed.release().catch((error: unknown) => o.onError(error, request));
    });
    return recorded;
  }
  if (
    payload !== null &&
    payload !== undefined &&
    typeof payload !== 'string' &&
    !Buffer.isBuffer(payload)
  ) {
    // A fetch Response carries a status of its own, applied after onSend: it cannot be captured.
    o.onError(
      new TypeError(
        `idempotency: a ${typeof payload} payload cannot be stored; the key was released`,
      ),
      request,
    );
    await claimed.release().catch((error: unknown) => o.onError(error, request));
    return payload;
  }
  const body = payload ?? '';
  const oversize = Buffer.byteLength(body) > o.maxBodyBytes;
  if (oversize) reply.header(HEADERS.bodyStored, 'false');
  const expiresAt = await store(o, claimed, request, reply, status, oversize ? '' : body, oversize);
  if (expiresAt !== null) reply.header(HEADERS.expires, httpDate(expiresAt));
  return payload;
}

/** Store one result; failures go to `onError` (the reply is sent anyway). */
async function store(
  o: GuardSettings<FastifyRequest>,
  claimed: Lease,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  body: Buffer | string,
  oversize: boolean,
): Promise<number | null> {
  const headers = storedHeaders(o.replayHeaders, (name) => reply.getHeader(name), oversize);
  try {
    const expiresAt = await claimed.completeUnchecked(status, JSON.stringify(headers), body);
    if (expiresAt === null) o.onError(lostLeaseError(claimed), request);
    return expiresAt;
  } catch (error) {
    o.onError(error, request);
    return null;
  }
}

export default idempotency;
