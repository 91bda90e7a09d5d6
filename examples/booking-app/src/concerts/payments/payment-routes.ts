import { type IdempotencyStore, idempotency, parseIdempotencyKey } from '@boxoffice/idempotency';
import { type Request, Router } from 'express';
import { z } from 'zod';
import { bearerToken, requireUser } from '../../auth/require-user.js';
import type { UserSessions } from '../../auth/user-sessions.js';
import { HttpError, NotFoundError } from '../../errors.js';
import { idempotencyProblem } from '../../http/idempotency-problem.js';
import { parse } from '../../http/validate.js';
import type { AppMetrics } from '../../observability/metrics.js';
import type { PayableReservation, PaymentService } from './payment-service.js';
import { PaymentTokens } from './payment-tokens.js';

const body = z.object({ reservationId: z.uuid('must be a UUID') });

declare global {
  namespace Express {
    interface Request {
      /** The user a verified payment token names (set on `POST /payments`). */
      payer?: number;
      /** The reservation that token lets `payer` pay, read once per request. */
      reservationToPay?: PayableReservation;
    }
  }
}

/**
 * `POST /payments {reservationId}` with the `seat_reservation_payment` token and an
 * `Idempotency-Key` (`@boxoffice/idempotency` middleware, scoped per user: a retry replays the
 * first answer, a concurrent duplicate waits for it, another body with the key is 422), and
 * `GET /payments/:id` with the user token.
 */
export function paymentRoutes(deps: {
  auth: UserSessions;
  paymentTokens: PaymentTokens;
  payments: PaymentService;
  store: IdempotencyStore;
  metrics: AppMetrics;
}): Router {
  const router = Router();

  router.post(
    '/payments',
    async (req: Request, _res, next) => {
      try {
        const token = bearerToken(req);
        if (typeof token !== 'string') throw token;
        const { reservationId } = parse('body', body, req.body);
        // The token first, the reservation after: without a valid payment token for this very
        // reservation, nobody learns whether it exists or whose it is (401/403 before 404).
        const access = await deps.paymentTokens.verify(token, reservationId);
        const reservation = await deps.payments.reservation(reservationId);
        if (!reservation) throw new NotFoundError('reservation', reservationId);
        PaymentTokens.checkReservation(access, reservation);
        req.payer = reservation.user_id;
        req.reservationToPay = reservation;
        next();
      } catch (error) {
        next(error);
      }
    },
    idempotency({
      store: deps.store,
      scope: (req) => `payer:${req.payer}`,
      inFlight: 'wait',
      waitMs: 10_000,
      handlerTimeoutMs: 120_000,
      onProblem: idempotencyProblem(deps.metrics),
    }),
    async (req, res) => {
      const key = parseIdempotencyKey(req.get('idempotency-key'));
      const outcome = await deps.payments.pay(req.reservationToPay as PayableReservation, key);
      if (outcome.kind === 'declined') {
        const { paymentId, reason, detail } = outcome;
        throw new HttpError(402, 'payment-declined', 'The payment was declined', detail, {
          reason,
          paymentId,
        });
      }
      if (outcome.kind === 'notPayable') {
        throw new HttpError(
          409,
          'reservation-not-payable',
          'The reservation cannot be paid',
          outcome.detail,
          outcome.extensions,
        );
      }
      const { payment } = outcome;
      res
        .status(payment.status === 'SUCCEEDED' ? 201 : 202)
        .location(`/payments/${payment.id}`)
        .json({ payment });
    },
  );

  router.get('/payments/:id', requireUser(deps.auth), async (req, res) => {
    const { id } = parse('params', z.object({ id: z.uuid('must be a UUID') }), req.params);
    const payment = await deps.payments.get(id, (req.user as { id: number }).id);
    if (!payment) throw new NotFoundError('payment', id);
    res.json({ payment });
  });

  return router;
}
