// Seat map (seats.html?concert=ID): pick seats while the turn lasts (counted down), hold them with
// the queue_entry token, and count the hold down to its expiresAt before moving on to payment. A
// hold of this user that can still be paid is shown again after a reload (asked of the server);
// when a hold runs out the page says so and the user picks again.
import {
  ApiError,
  api,
  countdown,
  describe,
  el,
  entryFor,
  idParam,
  money,
  renderSession,
  requireUser,
  setEntry,
  setHold,
  show,
  when,
} from './app.js';

const MAX_SEATS = 10;
const STATUS_TEXT = {
  AVAILABLE: 'available',
  HELD: 'held by someone else',
  MINE: 'held by you',
  ASSIGNED: 'sold',
  BLOCKED: 'not for sale',
};

const concertId = idParam('concert');
const user = requireUser();
renderSession();

const errorBox = document.getElementById('seats-error');
const holdButton = document.getElementById('hold');
/** Selected seat ids, in click order. */
const selected = new Set();
let seats = [];
/** The user's hold being paid for (a reservation), or null while picking. */
let holding = null;
/** Seat ids of `holding`: the status map shows them HELD like anyone's; the page knows better. */
const mine = new Set();
let stopHoldCountdown = () => {};
let stopTurnCountdown = () => {};

const TURN_OVER = 'Your turn has ended. Join the waiting room again to pick seats.';

function gate(
  message,
  link = { href: `/queue.html?concert=${concertId}`, text: 'Go to the waiting room' },
) {
  document.getElementById('picker').hidden = true;
  stopTurnCountdown();
  show(
    'gate',
    el(
      'div',
      { class: 'panel' },
      el('p', {}, message),
      el('a', { class: 'button', href: link.href }, link.text),
    ),
  );
}

/** What a seat shows: the user's own held seats as theirs. */
const shownStatus = (seat) =>
  mine.has(seat.id) && (seat.status === 'HELD' || seat.status === 'AVAILABLE')
    ? 'MINE'
    : seat.status;

function seatLabel(seat, pressed) {
  const state = pressed ? 'selected' : STATUS_TEXT[shownStatus(seat)];
  return `Seat ${seat.label}, ${seat.section}, ${money(seat.price, seat.currency)}, ${state}`;
}

function renderSelection() {
  const chosen = seats.filter((s) => selected.has(s.id));
  const total = chosen.reduce((sum, s) => sum + s.price, 0);
  document.getElementById('selection').textContent = holding
    ? 'Your seats are held: continue to payment below.'
    : chosen.length
      ? `Selected: ${chosen.map((s) => s.label).join(', ')} — ${money(total, chosen[0].currency)}`
      : 'No seats selected.';
  holdButton.hidden = holding !== null;
  holdButton.disabled = holding !== null || chosen.length === 0;
}

function toggle(seat, button) {
  const on = !selected.has(seat.id);
  if (on && selected.size >= MAX_SEATS) {
    errorBox.textContent = `You can hold at most ${MAX_SEATS} seats.`;
    return;
  }
  errorBox.textContent = '';
  if (on) selected.add(seat.id);
  else selected.delete(seat.id);
  button.setAttribute('aria-pressed', String(on));
  button.setAttribute('aria-label', seatLabel(seat, on));
  renderSelection();
}

/** The seat buttons by seat id (built once from the layout; statuses change in place). */
const buttons = new Map();
/** The layout (`GET /concerts/:id/seats/layout`) and the ETag of the last status shown. */
let layout = null;
let statusTag = null;
const STATUS_OF = { A: 'AVAILABLE', H: 'HELD', S: 'ASSIGNED', B: 'BLOCKED' };
const REFRESH_MS = 3000;
let refreshing = null;

function renderMap() {
  // Sections, then rows, in the order the API gives (by row and number).
  const sections = new Map();
  for (const seat of seats) {
    if (!sections.has(seat.section)) sections.set(seat.section, new Map());
    const rows = sections.get(seat.section);
    if (!rows.has(seat.row)) rows.set(seat.row, []);
    rows.get(seat.row).push(seat);
  }
  buttons.clear();
  show(
    'map',
    [...sections].map(([section, rows]) =>
      el(
        'div',
        { class: 'section', role: 'group', 'aria-label': section },
        el('h3', {}, section),
        [...rows].map(([row, list]) =>
          el(
            'div',
            { class: 'row', role: 'group', 'aria-label': `Row ${row}` },
            el('span', { class: 'row-name', 'aria-hidden': 'true' }, row),
            list.map((seat) => {
              const button = el(
                'button',
                {
                  type: 'button',
                  title: `${seat.label} · ${money(seat.price, seat.currency)}`,
                  'data-seat': seat.label,
                },
                seat.number,
              );
              button.addEventListener('click', () => toggle(seat, button));
              buttons.set(seat.id, button);
              return button;
            }),
            new Set(list.map((s) => s.price)).size === 1
              ? el(
                  'span',
                  { class: 'row-price', 'aria-hidden': 'true' },
                  money(list[0].price, list[0].currency),
                )
              : null,
          ),
        ),
      ),
    ),
  );
  applyStatuses();
}

/** Show every seat's status on its button (in place: focus and selection stay). */
function applyStatuses() {
  for (const seat of seats) {
    const status = shownStatus(seat);
    if (status !== 'AVAILABLE') selected.delete(seat.id);
    const button = buttons.get(seat.id);
    if (!button) continue;
    const pressed = selected.has(seat.id);
    button.className = `seat ${status.toLowerCase()}`;
    button.setAttribute('aria-pressed', String(pressed));
    button.setAttribute('aria-label', seatLabel(seat, pressed));
    // While a hold is being paid for, the map only shows: no second hold from here.
    button.disabled = status !== 'AVAILABLE' || holding !== null;
  }
  renderSelection();
}

/**
 * The statuses (`GET /concerts/:id/seats/status`), sent with If-None-Match: a 304 means nothing
 * changed. The answer may lag the database by `maxStalenessMs`; holding decides, not the map.
 * True when the statuses changed.
 */
async function loadStatuses() {
  const headers = { accept: 'application/json' };
  if (statusTag) headers['if-none-match'] = statusTag;
  const res = await fetch(`/concerts/${concertId}/seats/status`, { headers, cache: 'no-store' });
  if (res.status === 304) {
    // Read the (empty) body: a response left unread is cancelled, which Chromium logs as aborted.
    await res.arrayBuffer().catch(() => {});
    return false;
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  if (body.layout !== layout.version || body.codes.length !== seats.length) {
    // The layout changed under us (not done by this app while a concert sells): start over.
    await loadLayout({ cache: 'reload' });
    if (body.layout !== layout.version)
      throw new ApiError(503, { detail: 'The seat map changed. Reload the page.' });
  }
  statusTag = res.headers.get('etag');
  body.codes.split('').forEach((code, i) => {
    seats[i].status = STATUS_OF[code] ?? 'BLOCKED';
  });
  return true;
}

/** The static seat map (cached by the browser): concert, sections, rows, seat numbers, prices. */
async function loadLayout(options = {}) {
  const { body } = await api(`/concerts/${concertId}/seats/layout`, options);
  layout = body;
  seats = body.rows.flatMap((r) =>
    r.ids.map((id, i) => ({
      id,
      label: r.labels[i],
      section: r.section,
      row: r.row,
      number: r.numbers[i],
      price: r.prices[i],
      currency: body.currency,
      status: 'AVAILABLE',
    })),
  );
  statusTag = null;
  document.getElementById('title').textContent = `Choose your seats: ${body.concert.name}`;
  show('concert-info', `${body.concert.venue} · `, when(body.concert.startsAt));
  renderMap();
}

async function loadMap() {
  if (!layout) await loadLayout();
  if (await loadStatuses()) applyStatuses();
}

/** Refresh the statuses every few seconds while the map is shown (a 304 costs next to nothing). */
function keepFresh() {
  if (refreshing) return;
  refreshing = setInterval(() => {
    if (document.hidden || document.getElementById('picker').hidden) return;
    loadMap().catch(() => {});
  }, REFRESH_MS);
}

/** What the reservation path just said about seats, shown until the next status snapshot. */
function overrule(problem) {
  const mark = (id, status) => {
    const seat = seats.find((s) => s.id === id);
    if (seat) seat.status = status;
  };
  if (problem?.code === 'seat-locked') for (const id of problem.seatIds ?? []) mark(id, 'HELD');
  if (problem?.code === 'seat-unavailable') mark(problem.seatId, problem.seatStatus);
  // The next refresh answers 200 (not 304) and puts the snapshot's view back.
  statusTag = null;
  applyStatuses();
}

/** The map for picking, while the turn (the queue_entry token) lasts, counted down. */
function openPicker() {
  const entry = entryFor(concertId);
  if (!entry || entry.expiresAt <= Date.now()) return gate(TURN_OVER);
  document.getElementById('picker').hidden = false;
  document.getElementById('turn-left').hidden = false;
  stopTurnCountdown();
  stopTurnCountdown = countdown('turn-timer', 'turn-announce', entry.expiresAt, () => {
    setEntry(concertId, null);
    // A hold being paid for lives on; the turn's end shows once it is over.
    if (!holding) gate(TURN_OVER);
  });
}

/** The hold `reservation` of this user: its seats marked as theirs, the time left, the pay link. */
function showHeld(reservation) {
  holding = reservation;
  mine.clear();
  for (const id of reservation.seatIds) mine.add(id);
  selected.clear();
  applyStatuses();
  document.getElementById('picker').hidden = false;
  document.getElementById('turn-left').hidden = true;
  const labels = seats.filter((s) => mine.has(s.id)).map((s) => s.label);
  document.getElementById('held-seats').textContent = `Seats ${labels.join(', ')} — ${money(
    reservation.amount,
    reservation.currency,
  )}, held until ${when(reservation.expiresAt)}.`;
  const pay = document.getElementById('to-pay');
  pay.href = `/pay.html?reservation=${reservation.id}`;
  pay.hidden = false;
  document.getElementById('held').hidden = false;
  stopHoldCountdown();
  stopHoldCountdown = countdown('timer', 'timer-announce', reservation.expiresAt, () =>
    holdExpired(reservation),
  );
  pay.focus();
}

/** The hold ran out (the server releases its seats): clear it and let the user pick again. */
function holdExpired(reservation) {
  setHold(reservation.id, null);
  holding = null;
  mine.clear();
  document.getElementById('held').hidden = true;
  document.getElementById('to-pay').hidden = true;
  errorBox.textContent = 'Your hold has expired and the seats were released. Pick seats again.';
  statusTag = null;
  applyStatuses();
  openPicker();
  loadMap().catch(() => {});
  if (!document.getElementById('picker').hidden) holdButton.focus();
}

async function hold() {
  const entry = entryFor(concertId);
  if (!entry) return gate('Your turn has ended. Join the waiting room again to pick seats.');
  holdButton.disabled = true;
  errorBox.textContent = '';
  try {
    const { body } = await api(`/concerts/${concertId}/reservations`, {
      method: 'POST',
      token: entry.token,
      body: { seatIds: [...selected] },
    });
    setHold(body.reservation.id, { ...body, concertId });
    showHeld(body.reservation);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setEntry(concertId, null);
      return gate('Your turn has ended. Join the waiting room again to pick seats.');
    }
    errorBox.textContent =
      e instanceof ApiError && (e.status === 409 || e.code === 'seat-unavailable')
        ? 'Someone else just took one of those seats. The map is updated: pick again.'
        : describe(e);
    await loadMap().catch(() => {});
    if (e instanceof ApiError) overrule(e.problem);
  }
}

async function start() {
  if (!user) return;
  const toConcerts = { href: '/', text: 'Back to the concerts' };
  if (!concertId) return gate('No concert was chosen.', toConcerts);
  let live;
  try {
    await loadMap();
    // A hold of this user that can still be paid (a reload, another tab): theirs to pay for.
    const { body } = await api(`/concerts/${concertId}/reservations/mine`, { token: user.token });
    live = body.reservations.at(-1);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      return gate(`There is no concert with id ${concertId}.`, toConcerts);
    }
    errorBox.textContent = describe(e);
    return;
  }
  holdButton.addEventListener('click', hold);
  keepFresh();
  if (live) {
    setHold(live.reservation.id, { ...live, concertId });
    return showHeld(live.reservation);
  }
  const entry = entryFor(concertId);
  if (!entry || entry.expiresAt <= Date.now()) {
    return gate('It is not your turn yet: seats are picked after the waiting room lets you in.');
  }
  openPicker();
}

await start();
