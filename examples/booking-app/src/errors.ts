/**
 * Typed errors of the app. Every class has a stable `code`; the ones that extend {@link HttpError}
 * also carry the HTTP status they map to (DESIGN.md "HTTP contract"), so the error handler turns
 * them into RFC 9457 problem+json without a lookup table.
 */

/** An error with an HTTP status and a stable problem code. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    /** Extra members of the problem body. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

/** 400: one or more request fields are invalid. `errors` names each field. */
export class RequestValidationError extends HttpError {
  override name = 'RequestValidationError';
  constructor(readonly errors: { field: string; message: string }[]) {
    super(
      400,
      'validation-failed',
      'The request is invalid',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      { errors },
    );
  }
}

/** 404: a concert, seat, product or route that does not exist. */
export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(
    readonly resource: string,
    readonly id: string | number,
  ) {
    super(404, `${resource}-not-found`, `Unknown ${resource}`, `no ${resource} with id ${id}`, {
      resource,
      id,
    });
  }
}

/** Why a bearer token was refused. */
export type TokenProblem = 'token-missing' | 'token-expired' | 'token-invalid' | 'token-revoked';

/** 401: the user token is missing, expired, revoked (logged out) or not ours. */
export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';
  constructor(
    readonly reason: TokenProblem,
    detail: string,
  ) {
    super(401, reason, 'Authentication required', detail);
  }
}

/** 409: an order asked for more units than are left. Nothing was decremented. */
export class InsufficientStockError extends HttpError {
  override name = 'InsufficientStockError';
  constructor(
    readonly productId: number,
    readonly requested: number,
  ) {
    super(
      409,
      'insufficient-stock',
      'Not enough stock',
      `product ${productId} has fewer than ${requested} units left`,
      { productId, requested },
    );
  }
}

/**
 * 400: an order line asks for more units of a product than one order may take (its
 * `max_per_order`). `field` names the line as the request has it (`items.1.quantity`).
 */
export class OrderLimitExceededError extends HttpError {
  override name = 'OrderLimitExceededError';
  constructor(
    readonly line: number,
    readonly productId: number,
    productName: string,
    readonly limit: number,
    readonly requested: number,
  ) {
    const field = `items.${line}.quantity`;
    super(
      400,
      'order-limit-exceeded',
      'Too many units of a product in one order',
      `${field}: at most ${limit} of product ${productId} (${productName}) per order, asked for ${requested}`,
      { field, line, productId, limit, requested },
    );
  }
}

/** 400: a requested seat is BLOCKED or ASSIGNED (DESIGN.md: never reservable). */
export class SeatUnavailableError extends HttpError {
  override name = 'SeatUnavailableError';
  constructor(
    readonly seatId: number,
    readonly seatStatus: 'BLOCKED' | 'ASSIGNED',
  ) {
    super(
      400,
      'seat-unavailable',
      'The seat cannot be reserved',
      `seat ${seatId} is ${seatStatus}`,
      {
        seatId,
        seatStatus,
      },
    );
  }
}

/**
 * 409: a requested seat is locked by another hold (the seat lock was not acquired). `seatIds` are
 * the seats found taken, not every seat asked for.
 */
export class SeatLockedError extends HttpError {
  override name = 'SeatLockedError';
  constructor(readonly seatIds: number[]) {
    super(
      409,
      'seat-locked',
      'A seat is held by someone else',
      `${seatIds.length === 1 ? 'seat' : 'seats'} ${seatIds.join(', ')} ${
        seatIds.length === 1 ? 'is' : 'are'
      } already held; try other seats or later`,
      { seatIds },
    );
  }
}

/**
 * 409: the reservation would give the user more seats of the concert than the per-user cap
 * (`SEATS_PER_USER_MAX`). Nothing was held.
 */
export class SeatLimitReachedError extends HttpError {
  override name = 'SeatLimitReachedError';
  constructor(
    readonly limit: number,
    /** Seats of the concert the user already holds or owns. */
    readonly held: number,
    readonly requested: number,
  ) {
    super(
      409,
      'seat-limit-reached',
      'Seat limit per buyer reached',
      `at most ${limit} seats per buyer for this concert; you already have ${held}, asked for ${requested}`,
      { limit, held, requested },
    );
  }
}

/** 401/403 for a queue_entry or payment token (from `@boxoffice/queue`'s AccessTokenError). */
export class AccessTokenRefusedError extends HttpError {
  override name = 'AccessTokenRefusedError';
  constructor(status: 401 | 403, code: string, detail: string) {
    super(
      status,
      code,
      status === 401 ? 'A valid access token is required' : 'The token does not allow this',
      detail,
    );
  }
}

/**
 * 401: a reservation was asked for with the user's own token instead of the `queue_entry` token
 * the waiting room gives an admitted user: not (or not yet) admitted to this concert.
 */
export class NotAdmittedError extends HttpError {
  override name = 'NotAdmittedError';
  constructor(readonly concertId: number) {
    super(
      401,
      'not-admitted',
      'Not admitted to this concert',
      `you are not admitted to concert ${concertId}: join its waiting room ` +
        `(POST /concerts/${concertId}/queue) and, when it is your turn, reserve with the ` +
        'queue_entry token it gives you',
      { concertId },
    );
  }
}

/** 503: a backing service (the database or Redis) cannot be reached; retry later. */
export class ServiceUnavailableError extends HttpError {
  override name = 'ServiceUnavailableError';
  constructor(
    readonly service: 'database' | 'redis',
    detail: string,
    readonly retryAfterSec = 1,
    options?: { cause?: unknown },
  ) {
    super(503, `${service}-unavailable`, `The ${service} is unavailable`, detail, { service });
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The database cannot be reached (connection refused, closed, pool timeout). */
export class DatabaseUnavailableError extends ServiceUnavailableError {
  override name = 'DatabaseUnavailableError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super('database', detail, 1, options);
  }
}

/** Redis cannot be reached (connection refused or closed, offline queue disabled, retries exhausted). */
export class RedisUnavailableError extends ServiceUnavailableError {
  override name = 'RedisUnavailableError';
  constructor(detail: string, options?: { cause?: unknown }) {
    super('redis', detail, 1, options);
  }
}

/** The environment holds an invalid value; `problems` lists `VAR: message` for each. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'config-invalid';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/** The mock payment gateway declined the charge (also replayed for a retry with the same key). */
export class PaymentDeclinedError extends Error {
  override name = 'PaymentDeclinedError';
  readonly code = 'payment-declined';
  constructor(
    readonly idempotencyKey: string,
    readonly reason: string,
    /** True when this is the stored answer to an earlier request with the same key. */
    readonly replayed: boolean,
  ) {
    super(`payment declined (${reason}) for key ${JSON.stringify(idempotencyKey)}`);
  }
}

/**
 * The payment gateway did not answer in time. The outcome is unknown: the charge may or may not
 * have happened. Retry with the same idempotency key (never a new one) to find out safely.
 */
export class PaymentGatewayTimeoutError extends Error {
  override name = 'PaymentGatewayTimeoutError';
  readonly code = 'payment-gateway-timeout';
  constructor(
    readonly idempotencyKey: string,
    readonly timeoutMs: number,
  ) {
    super(
      `payment gateway timed out after ${timeoutMs} ms (key ${JSON.stringify(idempotencyKey)})`,
    );
  }
}

/** A charge request reused an idempotency key with a different amount, currency or reference. */
export class PaymentKeyReuseError extends Error {
  override name = 'PaymentKeyReuseError';
  readonly code = 'payment-key-reused';
  constructor(
    readonly idempotencyKey: string,
    readonly field: 'amount' | 'currency' | 'reference',
  ) {
    super(`idempotency key ${JSON.stringify(idempotencyKey)} was used with a different ${field}`);
  }
}
