// The operator page (admin.html): asks for ADMIN_TOKEN (kept in this tab's sessionStorage), then
// per concert follows GET /admin/api/concerts/:id/live (Server-Sent Events read with fetch, since
// EventSource cannot send the Authorization header and the token never goes in a URL), shows the
// numbers and 15-minute charts, and pauses, resumes and configures the waiting room.
import { lineChart } from './admin-charts.js';
import { ApiError, api, describe, el, show } from './app.js';

const KEY = 'bo.admin';
const WINDOW_MS = 15 * 60_000;
/** concert id → snapshots of the last 15 minutes, oldest first (this page only). */
const history = new Map();
let token = sessionStorage.getItem(KEY);
let concertId = null;
let stream = null;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms) => (ms == null ? '–' : `${(ms / 1000).toFixed(1)} s`);
const call = (path, options = {}) => api(path, { ...options, token });

function view(name) {
  $('loading').hidden = true;
  $('disabled').hidden = name !== 'disabled';
  $('login').hidden = name !== 'login';
  $('console').hidden = name !== 'console';
  $('forget').hidden = name !== 'console';
}

/** Is the operator API on, and is the token right? 'ok' | 'disabled' | 'unauthorized'. */
async function probe(candidate) {
  try {
    await api('/admin/api', { token: candidate ?? undefined });
    return 'ok';
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return 'disabled';
    if (e instanceof ApiError && e.status === 401) return 'unauthorized';
    throw e;
  }
}

function forget(message = '') {
  stream?.abort();
  stream = null;
  token = null;
  sessionStorage.removeItem(KEY);
  $('login-error').textContent = message;
  view('login');
}

function stateText(room) {
  if (!room.paused) return 'Admitting';
  const why = [];
  if (room.pausedBy.operator) why.push('by an operator');
  if (room.pausedBy.noSeatAvailable) why.push('no seat available');
  return `Paused${why.length ? ` (${why.join('; ')})` : ''}`;
}

/** The room's state and settings (from a control answer or a snapshot). */
function renderRoom(room, { fillInputs = false } = {}) {
  const state = $('room-state');
  state.textContent = stateText(room);
  state.dataset.paused = String(room.paused);
  const s = room.settings;
  $('settings-current').textContent =
    `max active ${s.maxActive} · admit per tick ${s.admitPerTick} · order ${s.order}`;
  if (fillInputs) {
    $('max-active').value = s.maxActive;
    $('admit-per-tick').value = s.admitPerTick;
    $('order').value = s.order;
  }
}

function renderNumbers(snap) {
  const items = [
    ['Waiting', snap.waiting, 'waiting'],
    ['Active', snap.active, 'active'],
    ['Admitted / min', snap.admittedPerMin, 'admitted'],
    ['Abandoned / min', snap.abandonedPerMin, 'abandoned'],
    ['Wait p50', seconds(snap.waitMs.p50), 'wait-p50'],
    ['Wait p90', seconds(snap.waitMs.p90), 'wait-p90'],
    ['Seats sold', snap.seats.sold, 'seats-sold'],
    ['Seats left', snap.seats.left, 'seats-left'],
    ['Available now', snap.seats.available, 'seats-available'],
    ['Held', snap.seats.held, 'seats-held'],
    ['Reservation conflicts', snap.reservationConflicts, 'conflicts'],
    ...Object.entries(snap.payments)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([outcome, n]) => [`Payments ${outcome.replaceAll('_', ' ')}`, n, `pay-${outcome}`]),
  ];
  if (Object.keys(snap.payments).length === 0) items.push(['Payments', 'none yet', 'payments']);
  show(
    'numbers',
    items.map(([label, value, id]) =>
      el('div', {}, el('dt', {}, label), el('dd', { id: `n-${id}` }, value)),
    ),
  );
}

function renderCharts(id) {
  const snaps = history.get(id) ?? [];
  const to = Date.now();
  const times = snaps.map((s) => Date.parse(s.at));
  // The last 15 minutes, or since the page opened when that is shorter (at least a minute).
  const from = Math.max(to - WINDOW_MS, Math.min(times[0] ?? to, to - 60_000));
  const paused = snaps.map((s) => s.paused);
  const pick = (f) => snaps.map(f);
  const chart = (title, series, unit) =>
    lineChart({ title, unit, times, paused, from, to, series });
  show(
    'charts',
    chart('Waiting and active', [
      { name: 'waiting', values: pick((s) => s.waiting) },
      { name: 'active', values: pick((s) => s.active) },
    ]),
    // A capacity change shows as a step in the second line.
    chart('Active and capacity', [
      { name: 'active', values: pick((s) => s.active) },
      { name: 'capacity', values: pick((s) => s.settings?.maxActive ?? null) },
    ]),
    chart('Admitted and abandoned per minute', [
      { name: 'admitted', values: pick((s) => s.admittedPerMin) },
      { name: 'abandoned', values: pick((s) => s.abandonedPerMin) },
    ]),
    chart(
      'Wait (seconds)',
      [
        { name: 'p50', values: pick((s) => (s.waitMs.p50 == null ? null : s.waitMs.p50 / 1000)) },
        { name: 'p90', values: pick((s) => (s.waitMs.p90 == null ? null : s.waitMs.p90 / 1000)) },
      ],
      ' s',
    ),
    chart('Seats left and sold', [
      { name: 'left', values: pick((s) => s.seats.left) },
      { name: 'sold', values: pick((s) => s.seats.sold) },
    ]),
  );
}

function onSnapshot(id, snap) {
  const snaps = history.get(id) ?? [];
  snaps.push(snap);
  const cutoff = Date.now() - WINDOW_MS;
  while (snaps.length > 0 && Date.parse(snaps[0].at) < cutoff) snaps.shift();
  history.set(id, snaps);
  if (id !== concertId) return;
  renderRoom(snap);
  renderNumbers(snap);
  renderCharts(id);
  $('live-state').textContent = `(live, ${new Date(snap.at).toLocaleTimeString()})`;
}

/** Follow the concert's live stream until aborted, reconnecting with a growing pause. */
async function follow(id) {
  stream?.abort();
  const controller = new AbortController();
  stream = controller;
  let delay = 1000;
  while (!controller.signal.aborted) {
    try {
      const res = await fetch(`/admin/api/concerts/${id}/live`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (res.status === 401) return forget('The server refused the token.');
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event === 'snapshot' && data) onSnapshot(id, JSON.parse(data));
          else if (event === 'unavailable') $('live-state').textContent = '(server busy: retrying)';
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
      $('live-state').textContent = `(reconnecting: ${describe(e)})`;
    }
    if (controller.signal.aborted) return;
    await sleep(delay);
    delay = Math.min(delay * 2, 10_000);
  }
}

async function selectConcert(id) {
  concertId = id;
  $('control-error').textContent = '';
  $('control-note').textContent = '';
  history.set(id, history.get(id) ?? []);
  renderCharts(id);
  try {
    renderRoom((await call(`/admin/api/concerts/${id}/room`)).body, { fillInputs: true });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return forget('The server refused the token.');
    $('control-error').textContent = describe(e);
  }
  void follow(id);
}

/** Run an operator action and show the room it answers with. */
async function control(path, options, note) {
  $('control-error').textContent = '';
  $('control-note').textContent = '';
  try {
    const { body } = await call(`/admin/api/concerts/${concertId}/room${path}`, options);
    renderRoom(body, { fillInputs: options.method === 'PATCH' });
    $('control-note').textContent = note(body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return forget('The server refused the token.');
    $('control-error').textContent = describe(e);
  }
}

async function openConsole() {
  view('console');
  const { body } = await api('/concerts');
  const wanted = Number(new URLSearchParams(location.search).get('concert'));
  show(
    'concert',
    body.concerts.map((c) => el('option', { value: c.id, selected: c.id === wanted }, c.name)),
  );
  await selectConcert(Number($('concert').value));
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = $('token').value.trim();
  $('login-error').textContent = '';
  try {
    const result = await probe(candidate);
    if (result === 'disabled') return view('disabled');
    if (result === 'unauthorized') {
      $('login-error').textContent = 'That is not the server’s ADMIN_TOKEN.';
      return;
    }
    token = candidate;
    sessionStorage.setItem(KEY, token);
    $('token').value = '';
    await openConsole();
  } catch (e) {
    $('login-error').textContent = describe(e);
  }
});
$('forget').addEventListener('click', () => forget());
$('concert').addEventListener('change', () => selectConcert(Number($('concert').value)));
$('concert-form').addEventListener('submit', (e) => e.preventDefault());
$('pause').addEventListener('click', () =>
  control('/pause', { method: 'POST' }, () => 'Paused: nobody is admitted until you resume.'),
);
$('resume').addEventListener('click', () =>
  control('/resume', { method: 'POST' }, (room) =>
    room.resumed
      ? 'Resumed: admissions go on from the next tick.'
      : 'Your pause is lifted, but no seat is available: the room reopens when one is.',
  ),
);
$('settings-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const body = {
    maxActive: Number($('max-active').value),
    admitPerTick: Number($('admit-per-tick').value),
    order: $('order').value,
  };
  void control('', { method: 'PATCH', body }, () => 'Settings applied for every instance.');
});
addEventListener('pagehide', () => stream?.abort());

try {
  const result = await probe(token);
  if (result === 'disabled') view('disabled');
  else if (result === 'unauthorized') forget(token ? 'The server refused the stored token.' : '');
  else await openConsole();
} catch (e) {
  view('login');
  $('login-error').textContent = describe(e);
}
