// Waiting room (queue.html?concert=ID): join, live position over Server-Sent Events, "your turn",
// and leaving the line when the tab closes (navigator.sendBeacon).
import {
  ApiError,
  api,
  countdown,
  describe,
  el,
  idParam,
  renderSession,
  requireUser,
  roughly,
  setEntry,
  show,
  when,
} from './app.js';

const concertId = idParam('concert');
const user = requireUser();
renderSession();

/** What the line knows: 'joining' | 'waiting' | 'active' | 'gone'. */
let state = 'joining';
/** Milliseconds per place in line, from the last status (position events carry no ETA). */
let msPerPlace = null;
let stream = null;
/** Set when the user moves on to the seat map, so leaving this page does not leave the line. */
let proceeding = false;
/** What the position area last said, as `position|eta`. */
let lastSaid = '';
/** The smallest position shown so far: a place in line only moves forward. */
let shownPosition = Number.POSITIVE_INFINITY;
let stopTurnCountdown = () => {};

const errorBox = document.getElementById('queue-error');

/** Show the keep-open note only while there is a place in line to keep. */
const keepOpen = (shown) => {
  document.getElementById('keep-open').hidden = !shown;
};

function showWaiting(reported, etaMs) {
  if (etaMs != null && reported > 0) msPerPlace = etaMs / reported;
  // Never a larger number than one already shown: a status read before a tick can arrive after
  // that tick's `position` event, and showing it would move the user back in line.
  const position = Math.min(reported, shownPosition);
  shownPosition = position;
  const eta = msPerPlace != null ? msPerPlace * position : null;
  keepOpen(true);
  // The live region is re-rendered only when what it says changes (no repeated announcements).
  const said = `${position}|${eta == null ? '' : roughly(eta)}`;
  if (said === lastSaid) return;
  lastSaid = said;
  document.title = `#${position} in line — boxoffice demo`;
  show(
    'line',
    el(
      'p',
      { class: 'position' },
      'You are number ',
      el('strong', { id: 'position' }, position),
      ' in line.',
    ),
    eta != null ? el('p', { id: 'eta' }, `Estimated wait: ${roughly(eta)}.`) : null,
  );
}

function showTurn(status) {
  state = 'active';
  stream?.close();
  setEntry(concertId, { token: status.token, expiresAt: status.expiresAt });
  document.title = 'Your turn — boxoffice demo';
  keepOpen(false);
  show(
    'line',
    el('p', { class: 'turn' }, 'It’s your turn!'),
    el('p', {}, `Choose your seats before ${when(new Date(status.expiresAt).toISOString())}.`),
  );
  // The booking window counts down here (outside the live region: it ticks every second).
  document.getElementById('turn-left').hidden = false;
  stopTurnCountdown();
  stopTurnCountdown = countdown('turn-timer', 'turn-announce', status.expiresAt, () => {
    setEntry(concertId, null);
    showGone('Your turn has ended. Join the line again to choose seats.');
  });
  const go = el(
    'a',
    {
      class: 'button',
      href: `/seats.html?concert=${concertId}`,
      onclick: () => (proceeding = true),
    },
    'Choose your seats',
  );
  show('actions', go);
  go.focus();
}

/** No turn on this page any more: stop its countdown. */
function endTurn() {
  stopTurnCountdown();
  document.getElementById('turn-left').hidden = true;
}

function showGone(message) {
  state = 'gone';
  stream?.close();
  endTurn();
  document.title = 'Waiting room — boxoffice demo';
  keepOpen(false);
  show('line', el('p', {}, message));
  show(
    'actions',
    el('button', { type: 'button', onclick: () => location.reload() }, 'Join the line again'),
  );
}

/** Nothing to wait for here (no such concert, no concert chosen): say so and offer the way back. */
function showNoRoom(message) {
  state = 'gone';
  document.title = 'Waiting room — boxoffice demo';
  keepOpen(false);
  show('line', el('p', {}, message));
  show('actions', el('a', { class: 'button', href: '/' }, 'Back to the concerts'));
}

/**
 * Every seat is taken: stop waiting. Nothing is sent: sold out is final, the room admits nobody any
 * more and the place lapses by itself (thousands of pages leaving at the same moment would be a
 * stampede on the server).
 */
function showSoldOut() {
  if (state === 'gone') return;
  state = 'gone';
  stream?.close();
  document.title = 'Sold out — boxoffice demo';
  endTurn();
  keepOpen(false);
  show('line', el('p', { class: 'soldout' }, 'Sold out: every seat of this concert is taken.'));
  show('actions', el('a', { class: 'button', href: '/' }, 'Back to the concerts'));
}

function onStatus(status) {
  if (status.soldOut) showSoldOut();
  else if (status.state === 'waiting') {
    state = 'waiting';
    showWaiting(status.position, status.etaMs);
  } else if (status.state === 'active') showTurn(status);
  else showGone('You are no longer in line.');
}

/** Delay before the next attempt to open the stream; doubles up to 10 s, reset by a `status`. */
let retryMs = 500;
let retryTimer = null;

/**
 * Open the live stream with a fresh stream token (minutes of life, this room's events only): the
 * user token never goes into a URL. The first one comes with the join; EventSource retries a
 * dropped stream with the same URL (whose token may have expired by then) and gives up for good on
 * a refused one (401, or 503 while Redis restarts), so on any error this page closes it and opens
 * a new one with a new token.
 */
async function listen(given) {
  if (state !== 'waiting') return;
  let token = given;
  if (!token) {
    try {
      const res = await api(`/concerts/${concertId}/queue/stream-token`, {
        method: 'POST',
        token: user.token,
      });
      token = res.body.token;
    } catch (e) {
      if (e.status === 401)
        return showGone('Your session has ended. Sign in again to wait in line.');
      return reopenLater();
    }
  }
  if (state !== 'waiting') return;
  const url = `/concerts/${concertId}/queue/events?access_token=${encodeURIComponent(token)}`;
  const source = new EventSource(url);
  stream = source;
  source.addEventListener('status', (e) => {
    retryMs = 500;
    onStatus(JSON.parse(e.data));
  });
  source.addEventListener('admitted', (e) => onStatus(JSON.parse(e.data)));
  source.addEventListener('position', (e) => {
    if (state === 'waiting') showWaiting(JSON.parse(e.data).position, null);
  });
  source.addEventListener('soldout', () => showSoldOut());
  source.addEventListener('evicted', () =>
    showGone('You were removed from the line because this page stopped answering.'),
  );
  source.addEventListener('error', () => {
    if (stream !== source) return;
    source.close();
    reopenLater();
  });
}

function reopenLater() {
  if (state !== 'waiting' || retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    listen();
  }, retryMs);
  retryMs = Math.min(retryMs * 2, 10_000);
}

async function leave() {
  state = 'gone';
  stream?.close();
  try {
    await api(`/concerts/${concertId}/queue`, { method: 'DELETE', token: user.token });
  } finally {
    location.assign('/');
  }
}

// Closing or leaving the tab gives the place up. sendBeacon cannot send headers, so the route
// takes `?_method=DELETE` and the token as a form field.
addEventListener('pagehide', () => {
  if (proceeding || state === 'gone' || state === 'joining') return;
  stream?.close();
  navigator.sendBeacon(
    `/concerts/${concertId}/queue?_method=DELETE`,
    new URLSearchParams({ access_token: user.token }),
  );
});

async function start() {
  if (!user) return;
  if (!concertId) return showNoRoom('No concert was chosen. Pick one from the list.');
  try {
    // The layout, not `GET /concerts/:id`: it names the concert too, the server keeps it in memory
    // (no query per arriving user, however large the hall), and the seat page needs it next —
    // `Cache-Control: public, max-age=3600` lets the browser keep it for then.
    const { body } = await api(`/concerts/${concertId}/seats/layout`).catch((e) => {
      if (e instanceof ApiError && e.status === 404) {
        showNoRoom(`There is no concert with id ${concertId}. Pick one from the list.`);
        return { body: null };
      }
      throw e;
    });
    if (!body) return;
    document.getElementById('title').textContent = `Waiting room: ${body.concert.name}`;
    show('concert-info', `${body.concert.venue} · `, when(body.concert.startsAt));
    const joined = await api(`/concerts/${concertId}/queue`, { method: 'POST', token: user.token });
    show(
      'actions',
      el('button', { type: 'button', class: 'secondary', onclick: leave }, 'Leave the line'),
    );
    onStatus(joined.body);
    if (state === 'waiting') listen(joined.body.stream?.token);
  } catch (e) {
    state = 'gone';
    keepOpen(false);
    errorBox.textContent = describe(e);
    show('line', el('p', {}, 'Could not join the line.'));
    show(
      'actions',
      el('button', { type: 'button', onclick: () => location.reload() }, 'Try again'),
    );
  }
}

await start();
