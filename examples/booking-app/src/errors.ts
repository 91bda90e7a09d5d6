/**
 * Typed errors of the app. Every class has a stable `code`. A {@link DomainError} is a business
 * rule's refusal and knows nothing of HTTP: `http/error-handler.ts` gives each class its status
 * (DESIGN.md "HTTP contract"). {@link HttpError}s are raised by the HTTP layer itself (routes,
 * validation, rate limits) and carry their status.
 */

/** A refused business rule: a stable problem `code`, a human `title`, details in `extensions`. */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: string,
    readonly title: string,
    detail?: string,
    /** Extra members of the problem body. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

/** An error of the HTTP layer, with its HTTP status. */
export class HttpError extends DomainError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    code: string,
    title: string,
    detail?: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(code, title, detail, extensions);
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

/** A concert, seat, product or route that does not exist. */
export class NotFoundError extends DomainError {
  override name = 'NotFoundError';
  constructor(
    readonly resource: string,
    readonly id: string | number,
  ) {
    super(`${resource}-not-found`, `Unknown ${resource}`, `no ${resource} with id ${id}`, {
      resource,
      id,
    });
  }
}

/** Why a bearer token was refused. */
export type TokenProblem = 'token-missing' | 'token-expired' | 'token-invalid' | 'token-revoked';

/** The user token is missing, expired, revoked (logged out) or not ours. */
export class UnauthorizedError extends DomainError {
  override name = 'UnauthorizedError';
  constructor(
    readonly reason: TokenProblem,
    detail: string,
  ) {
    super(reason, 'Authentication required', detail);
  }
}

/** An order asked for more units than are left. Nothing was decremented. */
export class InsufficientStockError extends DomainError {
  override name = 'InsufficientStockError';
  constructor(
    readonly productId: number,
    readonly requested: number,
  ) {
    super(
      'insufficient-stock',
      'Not enough stock',
      `product ${productId} has fewer than ${requested} units left`,
      { productId, requested },
    );
  }
}

/**
 * An order line asks for more units of a product than one order may take (its
 * `max_per_order`). `field` names the line as the request has it (`items.1.quantity`).
 */
export class OrderLimitExceededError extends DomainError {
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
      'order-limit-exceeded',
      'Too many units of a product in one order',
      `${field}: at most ${limit} of product ${productId} (${productName}) per order, asked for ${requested}`,
      { field, line, productId, limit, requested },
    );
  }
}

/** A requested seat is BLOCKED or ASSIGNED (DESIGN.md: never reservable). */
export class SeatUnavailableError extends DomainError {
  override name = 'SeatUnavailableError';
  constructor(
    readonly seatId: number,
    readonly seatStatus: 'BLOCKED' | 'ASSIGNED',
  ) {
    super('seat-unavailable', 'The seat cannot be reserved', `seat ${seatId} is ${seatStatus}`, {
      seatId,
      seatStatus,
    });
  }
}

/**
 * A requested seat is locked by another hold (the seat lock was not acquired). `seatIds` are
 * the seats found taken, not every seat asked for.
 */
export class SeatLockedError extends DomainError {
  override name = 'SeatLockedError';
  constructor(readonly seatIds: number[]) {
    super(
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
 * The reservation would give the user more seats of the concert than the per-user cap
 * (`SEATS_PER_USER_MAX`). Nothing was held.
 */
export class SeatLimitReachedError extends DomainError {
  override name = 'SeatLimitReachedError';
  constructor(
    readonly limit: number,
    /** Seats of the concert the user already holds or owns. */
    readonly held: number,
    readonly requested: number,
  ) {
    super(
      'seat-limit-reached',
      'Seat limit per buyer reached',
      `at most ${limit} seats per buyer for this concert; you already have ${held}, asked for ${requested}`,
      { limit, held, requested },
    );
  }
}

/**
 * A queue_entry or payment token was refused (from `@boxoffice/queue`'s AccessTokenError):
 * `forbidden` for a valid token of another concert, scope, user or reservation, otherwise missing,
 * malformed, expired or revoked.
 */
export class AccessTokenRefusedError extends DomainError {
  override name = 'AccessTokenRefusedError';
  constructor(
    readonly forbidden: boolean,
    code: string,
    detail: string,
  ) {
    super(
      code,
      forbidden ? 'The token does not allow this' : 'A valid access token is required',
      detail,
    );
  }
}

/**
 * A reservation was asked for with the user's own token instead of the `queue_entry` token
 * the waiting room gives an admitted user: not (or not yet) admitted to this concert.
 */
export class NotAdmittedError extends DomainError {
  override name = 'NotAdmittedError';
  constructor(readonly concertId: number) {
    super(
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
