// Popular products (popular.html): the Count-Min Sketch estimate next to the exact SQL count.
import { api, describe, el, renderSession, show } from './app.js';

renderSession();

function table(id, rows, column) {
  const head = el(
    'thead',
    {},
    el(
      'tr',
      {},
      el('th', { scope: 'col' }, '#'),
      el('th', { scope: 'col' }, 'Product'),
      el('th', { scope: 'col', class: 'num' }, column),
    ),
  );
  const body = el(
    'tbody',
    {},
    rows.length
      ? rows.map((r, i) =>
          el(
            'tr',
            {},
            el('td', {}, i + 1),
            el('th', { scope: 'row' }, r.name),
            el('td', { class: 'num' }, r.sold),
          ),
        )
      : el('tr', {}, el('td', { colspan: 3 }, 'No sales in this period.')),
  );
  const target = document.getElementById(id);
  const caption = target.querySelector('caption');
  target.replaceChildren(caption, head, body);
}

async function load() {
  const days = document.getElementById('days').value;
  const error = document.getElementById('popular-error');
  error.textContent = '';
  try {
    const [sketch, exact] = await Promise.all([
      api(`/products/popular?days=${days}&limit=10`),
      api(`/products/popular/exact?days=${days}&limit=10`),
    ]);
    table('sketch', sketch.body.products, 'Sold (estimate)');
    table('exact', exact.body.products, 'Sold');
    const bound = sketch.body.products[0]?.errorBound;
    const limit =
      bound === undefined
        ? ''
        : bound < 1
          ? ' (here by less than one unit)'
          : ` (here by at most ${Math.floor(bound)} units)`;
    show(
      'sketch-note',
      `Never under-counts, and over-counts only by a small bound with high probability${limit}. `,
      'Reads Redis counters, not the orders.',
    );
  } catch (e) {
    error.textContent = describe(e);
  }
}

document.getElementById('days').addEventListener('change', load);
document.getElementById('days-form').addEventListener('submit', (e) => e.preventDefault());
await load();
