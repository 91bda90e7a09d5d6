// Small line charts in plain SVG for the operator page: no library, no inline style (the page's
// CSP has no 'unsafe-inline'); colours come from admin.css classes.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 110;
const PAD = { left: 34, right: 6, top: 8, bottom: 16 };

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** A readable upper bound for the y axis: 1, 2 or 5 times a power of ten, at least 1. */
export function niceMax(value) {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * A line chart of `series` (`{ name, values: (number|null)[] }`, up to two) over `times` (epoch ms),
 * from `from` to `to` (the x axis says how long ago `from` was); `paused` (booleans like `times`) shades the spans when admissions were
 * paused. Returns a `<figure>`; a gap (null) breaks the line.
 */
export function lineChart({ title, unit = '', times, series, paused = [], from, to }) {
  const span = Math.round((to - from) / 1000);
  const fromLabel = span >= 120 ? `−${Math.round(span / 60)} min` : `−${span} s`;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  const max = niceMax(Math.max(0, ...all));
  const x = (t) => PAD.left + ((t - from) / Math.max(1, to - from)) * plotW;
  const y = (v) => PAD.top + plotH - (v / max) * plotH;

  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `${title}: ${series
      .map((s) => `${s.name} ${s.values.at(-1) ?? 'n/a'}${unit}`)
      .join(', ')}`,
  });
  // Paused spans first, under the lines.
  for (let i = 0; i < times.length; i++) {
    if (!paused[i]) continue;
    const end = times[i + 1] ?? times[i] + 1000;
    root.append(
      svg('rect', {
        class: 'paused-band',
        x: x(times[i]).toFixed(1),
        y: PAD.top,
        width: Math.max(1, x(end) - x(times[i])).toFixed(1),
        height: plotH,
      }),
    );
  }
  root.append(
    svg('line', { class: 'axis', x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0) }),
    svg('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0) }),
    svg(
      'text',
      { class: 'label', x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end' },
      `${max}`,
    ),
    svg('text', { class: 'label', x: PAD.left - 4, y: y(0), 'text-anchor': 'end' }, '0'),
    svg('text', { class: 'label', x: PAD.left, y: HEIGHT - 3 }, fromLabel),
    svg(
      'text',
      { class: 'label', x: WIDTH - PAD.right, y: HEIGHT - 3, 'text-anchor': 'end' },
      'now',
    ),
  );
  series.forEach((s, index) => {
    let points = [];
    const flush = () => {
      if (points.length > 0) {
        root.append(svg('polyline', { class: `series series-${index}`, points: points.join(' ') }));
      }
      points = [];
    };
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (Number.isFinite(v)) points.push(`${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`);
      else flush();
    }
    flush();
    if (series.length > 1) {
      root.append(
        svg(
          'text',
          { class: `label legend-${index}`, x: PAD.left + 6 + index * 70, y: PAD.top + 8 },
          s.name,
        ),
      );
    }
  });

  const figure = document.createElement('figure');
  figure.className = 'chart';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  figure.append(caption, root);
  return figure;
}
