// Shared helpers of the boxoffice pages: the JSON API, the session (sessionStorage), small DOM
// and formatting helpers. Plain ES module, no dependencies.

/** An error answer of the API (RFC 9457 problem+json). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem?.code;
    this.problem = problem;
  }
}

/**
 * Call the JSON API. Resolves with `{ status, body, headers }` for 2xx, throws ApiError otherwise.
 * @param {string} path
 * @param {{ method?: string, token?: string, body?: unknown, headers?: Record<string,string>, cache?: RequestCache }} [options]
 */
export async function api(path, options = {}) {
  const headers = { accept: 'application/json', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: options.cache,
  });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return { status: res.status, body, headers: res.headers };
}

const read = (key) => {
  try {
    return JSON.parse(sessionStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
};
const write = (key, value) =>
  value == null
    ? sessionStorage.removeItem(key)
    : sessionStorage.setItem(key, JSON.stringify(value));

/** The signed-in demo user `{ token, name, expiresAt }` of this tab, or null. */
export function currentUser() {
  const user = read('bo.user');
  if (!user || Date.parse(user.expiresAt) <= Date.now()) return null;
  return user;
}
export const setUser = (user) => write('bo.user', user);
/** Revoke the user token on the server (every instance), then forget this tab's session. */
export async function signOut() {
  const user = read('bo.user');
  try {
    if (user?.token) await api('/auth/logout', { method: 'POST', token: user.token });
  } catch {
    // Already expired or revoked, or the server is away: the token still dies at its expiry.
  }
  sessionStorage.clear();
  location.assign('/');
}

/** The `queue_entry` token of a concert `{ token, expiresAt }` (kept while the user is admitted). */
export const entryFor = (concertId) => read(`bo.entry.${concertId}`);
export const setEntry = (concertId, entry) => write(`bo.entry.${concertId}`, entry);

/** A seat hold: `{ reservation, paymentToken }` as `POST /concerts/:id/reservations` answered. */
export const holdFor = (reservationId) => read(`bo.hold.${reservationId}`);
export const setHold = (reservationId, hold) => write(`bo.hold.${reservationId}`, hold);

/** The Idempotency-Key of a reservation's payment: made once, reused by every resubmission. */
export function paymentKeyFor(reservationId) {
  const name = `bo.paykey.${reservationId}`;
  let key = read(name);
  if (!key) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    key = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    write(name, key);
  }
  return key;
}
export const forgetPaymentKey = (reservationId) => write(`bo.paykey.${reservationId}`, null);

/** The signed-in user, or null after sending the browser to the login form (back here after). */
export function requireUser() {
  const user = currentUser();
  if (!user) location.replace(`/?next=${encodeURIComponent(location.pathname + location.search)}`);
  return user;
}

/** A query-string parameter of this page. */
export const param = (name) => new URLSearchParams(location.search).get(name);

/** A positive integer query parameter, or null. */
export function idParam(name) {
  const value = Number(param(name));
  return Number.isInteger(value) && value > 0 ? value : null;
}

/**
 * Create an element: `el('a', { href: '/x', class: 'button' }, 'text', child)`. Attributes set
 * with setAttribute (`on*` functions become listeners); children are text or nodes. Never HTML.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replace the content of the element with id `id`. */
export function show(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
  return target;
}

/** Integer cents as money: `money(15000, 'USD')` → "$150.00". */
/** The labels of `seatIds` in the hall's order, from a seat layout (`GET /concerts/:id/seats/layout`). */
export function seatLabels(layout, seatIds) {
  const wanted = new Set(seatIds);
  return layout.rows.flatMap((r) => r.labels.filter((_, i) => wanted.has(r.ids[i])));
}

export const money = (cents, currency = 'USD') =>
  new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);

/** A date and time in the reader's time zone. */
export const when = (iso) =>
  new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' }).format(
    new Date(iso),
  );

/** Milliseconds as "m:ss". */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Milliseconds as words: "about 2 minutes", "less than a minute". */
export function roughly(ms) {
  if (ms < 60_000) return 'less than a minute';
  const minutes = Math.round(ms / 60_000);
  return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
}

/**
 * Count down to `expiresAt` in the `role="timer"` element `timerId`; the polite live region
 * `announceId` is told only at whole minutes and at 30 and 10 seconds (not every second).
 * Calls `onExpired` once at zero. Returns a function that stops it.
 */
export function countdown(timerId, announceId, expiresAt, onExpired) {
  const end = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  const timer = document.getElementById(timerId);
  const announce = document.getElementById(announceId);
  let said = null;
  const tick = () => {
    const left = end - Date.now();
    timer.textContent = clock(left);
    const s = Math.ceil(left / 1000);
    const say =
      s <= 0
        ? 'Time is up.'
        : s === 30 || s === 10 || (s % 60 === 0 && s > 0)
          ? `${clock(left)} left.`
          : null;
    if (say && say !== said) {
      said = say;
      announce.textContent = say;
    }
    if (left <= 0) {
      clearInterval(handle);
      onExpired?.();
    }
  };
  const handle = setInterval(tick, 250);
  tick();
  return () => clearInterval(handle);
}

/** Fill the page header's session area: who is signed in, and a sign-out button. */
export function renderSession() {
  const user = currentUser();
  const area = document.getElementById('session');
  if (!area) return;
  area.replaceChildren(
    ...(user
      ? [
          el('span', {}, 'Signed in as ', el('strong', {}, user.name), ' (demo) '),
          el('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'),
        ]
      : [el('a', { href: '/' }, 'Sign in')]),
  );
}

/** The message of an error for a person. */
export const describe = (error) =>
  error instanceof ApiError ? error.message : 'The server could not be reached. Try again.';
