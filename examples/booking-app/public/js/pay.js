// Payment (pay.html?reservation=ID): a mock card form; POST /payments with the payment token and
// an Idempotency-Key made once per reservation. 201 → confirmation; 202 → the gateway timed out
// and a retry is scheduled on the server: say so and poll GET /payments/:id until it is final.
import {
  ApiError,
  api,
  countdown,
  describe,
  el,
  forgetPaymentKey,
  holdFor,
  money,
  param,
  paymentKeyFor,
  renderSession,
  requireUser,
  seatLabels,
  show,
  when,
} from './app.js';

const POLL_MS = 1000;
const reservationId = param('reservation');
const user = requireUser();
renderSession();

const errorBox = document.getElementById('pay-error');
const statusBox = document.getElementById('pay-status');
const payButton = document.getElementById('pay');
let stopCountdown = () => {};

function gate(message, concertId) {
  document.getElementById('order').hidden = true;
  document.getElementById('card').hidden = true;
  stopCountdown();
  show(
    'gate',
    el(
      'div',
      { class: 'panel' },
      el('p', {}, message),
      concertId
        ? el(
            'a',
            { class: 'button', href: `/seats.html?concert=${concertId}` },
            'Back to the seat map',
          )
        : el('a', { class: 'button', href: '/' }, 'Back to concerts'),
    ),
  );
}

const confirmed = (payment) =>
  location.assign(`/confirmation.html?reservation=${reservationId}&payment=${payment.id}`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** After a 202: the server retries the gateway with the same key; follow the payment. */
async function follow(payment) {
  statusBox.textContent =
    'Retry in progress: the payment gateway did not answer in time, so the payment is being retried. ' +
    'You will not be charged twice. Please keep this page open…';
  statusBox.classList.add('pending');
  let current = payment;
  while (
    current.status === 'RETRY_SCHEDULED' ||
    current.status === 'STARTED' ||
    current.status === 'PG_REQUESTED'
  ) {
    await sleep(POLL_MS);
    try {
      current = (await api(`/payments/${payment.id}`, { token: user.token })).body.payment;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status >= 500) continue;
      throw e;
    }
  }
  statusBox.classList.remove('pending');
  return current;
}

async function pay(event, hold) {
  event.preventDefault();
  payButton.disabled = true;
  errorBox.textContent = '';
  statusBox.textContent = 'Paying…';
  const key = paymentKeyFor(reservationId);
  try {
    const res = await api('/payments', {
      method: 'POST',
      token: hold.paymentToken,
      body: { reservationId },
      headers: { 'idempotency-key': `"${key}"` },
    });
    let payment = res.body.payment;
    if (res.status === 202) payment = await follow(payment);
    if (payment.status === 'SUCCEEDED') {
      stopCountdown();
      statusBox.textContent = 'Payment accepted.';
      return confirmed(payment);
    }
    forgetPaymentKey(reservationId);
    statusBox.textContent = '';
    gate(
      `The payment failed (${payment.failureReason ?? 'declined'}); the seats were released.`,
      hold.concertId,
    );
  } catch (e) {
    statusBox.textContent = '';
    if (e instanceof ApiError && e.status === 402) {
      forgetPaymentKey(reservationId);
      return gate(
        'The card was declined and the seats were released. Pick seats again to retry.',
        hold.concertId,
      );
    }
    if (e instanceof ApiError && e.status === 401) {
      return gate('Your hold has expired and the seats were released.', hold.concertId);
    }
    // Anything else (a 409 in flight, a network error): the same key may be sent again safely.
    errorBox.textContent = describe(e);
    payButton.disabled = false;
  }
}

async function start() {
  if (!user) return;
  const hold = reservationId ? holdFor(reservationId) : null;
  if (!hold) return gate('There is no seat hold to pay for in this tab.');
  try {
    const [{ body: r }, { body: c }] = await Promise.all([
      api(`/reservations/${reservationId}`, { token: user.token }),
      // The layout (kept by the server, cached by the browser since the seat page) names the
      // concert and the seats, where `GET /concerts/:id` would query the whole seat map.
      api(`/concerts/${hold.concertId}/seats/layout`),
    ]);
    const reservation = r.reservation;
    if (reservation.status === 'CONFIRMED')
      return location.replace(`/confirmation.html?reservation=${reservationId}`);
    if (reservation.status !== 'HELD') {
      return gate(
        `This reservation is ${reservation.status.toLowerCase()}; the seats were released.`,
        hold.concertId,
      );
    }
    const labels = seatLabels(c, reservation.seatIds);
    show(
      'order-details',
      el('dt', {}, 'Concert'),
      el('dd', {}, `${c.concert.name}, ${when(c.concert.startsAt)}`),
      el('dt', {}, 'Seats'),
      el('dd', { id: 'order-seats' }, labels.join(', ')),
      el('dt', {}, 'Total'),
      el('dd', { id: 'order-total' }, money(reservation.amount, reservation.currency)),
    );
    document.getElementById('order').hidden = false;
    document.getElementById('card').hidden = false;
    document.getElementById('card-name').value = user.name;
    stopCountdown = countdown('timer', 'timer-announce', reservation.expiresAt, () =>
      gate('Your hold has expired and the seats were released.', hold.concertId),
    );
    document.getElementById('pay-form').addEventListener('submit', (event) => pay(event, hold));
    payButton.textContent = `Pay ${money(reservation.amount, reservation.currency)}`;
  } catch (e) {
    errorBox.textContent = describe(e);
  }
}

await start();
