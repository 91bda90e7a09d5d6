// Confirmation (confirmation.html?reservation=ID&payment=ID): the reservation as the server has it.
import {
  api,
  describe,
  el,
  money,
  param,
  renderSession,
  requireUser,
  seatLabels,
  setEntry,
  setHold,
  show,
  when,
} from './app.js';

const reservationId = param('reservation');
const paymentId = param('payment');
const user = requireUser();
renderSession();

async function start() {
  if (!user) return;
  const title = document.getElementById('title');
  try {
    const { body } = await api(`/reservations/${reservationId}`, { token: user.token });
    const reservation = body.reservation;
    const [{ body: c }, payment] = await Promise.all([
      api(`/concerts/${reservation.concertId}/seats/layout`),
      paymentId
        ? api(`/payments/${paymentId}`, { token: user.token }).then((r) => r.body.payment)
        : null,
    ]);
    const labels = seatLabels(c, reservation.seatIds);
    if (reservation.status !== 'CONFIRMED') {
      title.textContent = 'Booking not confirmed';
      document.getElementById('confirm-error').textContent =
        `This reservation is ${reservation.status.toLowerCase()}.`;
      return;
    }
    // The booking is done: the hold and the turn in the waiting room are spent.
    setHold(reservationId, null);
    setEntry(reservation.concertId, null);
    title.textContent = 'Booking confirmed';
    document.title = 'Booking confirmed — boxoffice demo';
    show('confirm-lead', `Enjoy the show, ${user.name}! Your seats are booked.`);
    show(
      'confirm-details',
      el('dt', {}, 'Concert'),
      el('dd', {}, `${c.concert.name}, ${c.concert.venue}, ${when(c.concert.startsAt)}`),
      el('dt', {}, 'Seats'),
      el('dd', { id: 'confirmed-seats' }, labels.join(', ')),
      el('dt', {}, 'Paid'),
      el('dd', {}, money(reservation.amount, reservation.currency)),
      el('dt', {}, 'Reservation'),
      el('dd', {}, el('code', {}, reservation.id)),
      payment
        ? [
            el('dt', {}, 'Payment'),
            el('dd', {}, `${payment.status.toLowerCase()}, attempt ${payment.attempts}`),
          ]
        : null,
    );
    document.getElementById('confirmed').hidden = false;
  } catch (e) {
    title.textContent = 'Booking not found';
    document.getElementById('confirm-error').textContent = describe(e);
  }
}

await start();
