// The seat map's cost per request: the full form (`GET /concerts/:id`, one object per seat) against
// the compact status (`GET /concerts/:id/seats/status`) and its 304, on one built server
// (examples/booking-app/dist/server.js) with a concert of SEATS seats in PostgreSQL.
// Run: `npx tsx bench/seat-map/run.ts` (under `flock /tmp/boxoffice-heavy.lock` on shared machines).
// Env: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), SEATS (1000),
// CONNECTIONS (50), DURATION_S (5). Prints a Markdown table; writes nothing.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import autocannon from 'autocannon';

const DB = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SEATS = Number(process.env.SEATS ?? 1000);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const DURATION_S = Number(process.env.DURATION_S ?? 5);
const schema = `bench_${randomBytes(4).toString('hex')}`;
const serverJs = join(
  import.meta.dirname,
  '..',
  '..',
  'examples',
  'booking-app',
  'dist',
  'server.js',
);

const psql = (sql: string) =>
  execFileSync('psql', [DB, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], {
    encoding: 'utf8',
  }).trim();

const child = spawn(process.execPath, [serverJs], {
  env: {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: DB,
    DATABASE_SCHEMA: schema,
    REDIS_PREFIX: `bench-${schema}`,
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
try {
  const base = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1] as string);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });

  // A hall of SEATS seats, 25 to a row, a few of them sold-out-looking (BLOCKED).
  const rowsNeeded = Math.ceil(SEATS / 25);
  const id = psql(`SET search_path TO "${schema}";
    WITH c AS (INSERT INTO concerts (name, venue, starts_at, sales_open_at)
               VALUES ('Bench Hall', 'Arena', now() + interval '30 days', now()) RETURNING id)
    INSERT INTO seats (concert_id, section, row_label, seat_number, label, price_cents, status)
    SELECT c.id, 'Floor', 'R' || lpad(r::text, 3, '0'), n, 'R' || lpad(r::text, 3, '0') || '-' || n,
           10000, CASE WHEN (r * 25 + n) % 17 = 0 THEN 'BLOCKED' ELSE 'AVAILABLE' END
    FROM c, generate_series(1, ${rowsNeeded}) r, generate_series(1, 25) n
    WHERE (r - 1) * 25 + n <= ${SEATS}
    RETURNING concert_id`)
    .split('\n')
    .at(-1);

  const fullPath = `/concerts/${id}`;
  const statusPath = `/concerts/${id}/seats/status`;
  const layoutPath = `/concerts/${id}/seats/layout`;
  const tagOf = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    const body = await res.arrayBuffer();
    return { etag: res.headers.get('etag') ?? '', bytes: body.byteLength };
  };
  const full = await tagOf(fullPath);
  const status = await tagOf(statusPath);
  const layout = await tagOf(layoutPath);

  const cases: { name: string; path: string; headers?: Record<string, string>; body: number }[] = [
    { name: `full form \`GET ${'/concerts/:id'}\``, path: fullPath, body: full.bytes },
    {
      name: 'full form, `If-None-Match` (Express weak ETag: 304 after building the JSON)',
      path: fullPath,
      headers: { 'if-none-match': full.etag },
      body: 0,
    },
    {
      name: 'compact status `GET /concerts/:id/seats/status`',
      path: statusPath,
      body: status.bytes,
    },
    {
      name: 'compact status, `If-None-Match` → 304',
      path: statusPath,
      headers: { 'if-none-match': status.etag },
      body: 0,
    },
    {
      name: 'layout `GET /concerts/:id/seats/layout` (once per user)',
      path: layoutPath,
      body: layout.bytes,
    },
  ];
  const lines = [
    `| request (${SEATS} seats, ${CONNECTIONS} connections, ${DURATION_S} s) | req/s | body bytes | bytes/response incl. headers | p99 ms | non-2xx/304 |`,
    '|---|--:|--:|--:|--:|--:|',
  ];
  for (const c of cases) {
    const result = await autocannon({
      url: `${base}${c.path}`,
      connections: CONNECTIONS,
      duration: DURATION_S,
      headers: c.headers,
    });
    const bad = result.non2xx - (c.headers ? (result['3xx'] ?? 0) : 0);
    lines.push(
      `| ${c.name} | ${Math.round(result.requests.average).toLocaleString('en-US')} | ${c.body.toLocaleString('en-US')} | ${Math.round(result.throughput.total / Math.max(1, result.requests.total)).toLocaleString('en-US')} | ${result.latency.p99} | ${bad + result.errors} |`,
    );
    console.error(`done: ${c.name}`);
  }
  console.log(lines.join('\n'));
} finally {
  child.kill('SIGTERM');
  try {
    psql(`SET client_min_messages = warning; DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } catch {
    // the schema stays for a manual look
  }
}
