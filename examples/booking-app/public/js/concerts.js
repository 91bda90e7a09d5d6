// Concert list and the demo login form (index.html).
import {
  api,
  currentUser,
  describe,
  el,
  param,
  renderSession,
  setUser,
  show,
  when,
} from './app.js';

const next = param('next');
const safeNext = next?.startsWith('/') && !next.startsWith('//') ? next : null;

async function login(event) {
  event.preventDefault();
  const name = document.getElementById('name').value.trim();
  const error = document.getElementById('login-error');
  error.textContent = '';
  try {
    const { body } = await api('/auth/demo-login', { method: 'POST', body: { name } });
    setUser({ token: body.token, name: body.user.name, expiresAt: body.expiresAt });
    if (safeNext) return location.assign(safeNext);
    document.getElementById('login').hidden = true;
    renderSession();
    await listConcerts();
  } catch (e) {
    error.textContent = describe(e);
  }
}

async function listConcerts() {
  const status = document.getElementById('concerts-status');
  try {
    const { body } = await api('/concerts');
    const signedIn = currentUser() !== null;
    show(
      'concerts',
      body.concerts.map((c) =>
        el(
          'li',
          { class: 'card' },
          el('h3', {}, c.name),
          el('p', {}, c.venue),
          el('p', {}, el('time', { datetime: c.startsAt }, when(c.startsAt))),
          el('p', { class: 'note' }, `${c.availableCount} of ${c.seatCount} seats available`),
          c.availableCount > 0
            ? el(
                'a',
                {
                  class: 'button',
                  href: `/queue.html?concert=${c.id}`,
                  'aria-label': `Get tickets for ${c.name}`,
                },
                signedIn ? 'Get tickets' : 'Sign in for tickets',
              )
            : el('p', { class: 'soldout' }, 'Sold out'),
        ),
      ),
    );
    status.textContent = `${body.concerts.length} concerts on sale.`;
    status.classList.add('visually-hidden');
  } catch (e) {
    status.textContent = describe(e);
  }
}

renderSession();
const loginPanel = document.getElementById('login');
document.getElementById('login-form').addEventListener('submit', login);
if (!currentUser()) {
  loginPanel.hidden = false;
  if (safeNext) document.getElementById('name').focus();
} else if (safeNext) location.replace(safeNext);
await listConcerts();
