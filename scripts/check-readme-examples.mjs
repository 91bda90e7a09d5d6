#!/usr/bin/env node
// Runs every README example the way a user would: packs each published package (scripts/lib/
// pack.mjs), installs the tarballs with the peers the examples need (versions from pnpm-lock.yaml)
// into a scratch project under os.tmpdir(), outside the workspace, then
//   - type-checks the TypeScript examples with strict tsc (node16 resolution, then bundler),
//   - runs each example against Redis (REDIS_URL, default 127.0.0.1:6379) under a random KEY_PREFIX of its own,
//     those that import express under Express 5 and Express 4; a server example listens on PORT,
//     gets the requests of SERVERS below, must still be up after them and exit 0 on SIGTERM,
//   - require()s each package and subpath export from CommonJS and checks it exports what the ESM
//     build exports,
// prints `ok`/`FAIL` per example (with its output on failure), deletes the run's keys and the
// scratch project (`--keep` keeps it). Which README blocks are examples: see ARCHITECTURE.md,
// "README examples". Needs the build (`node scripts/setup.mjs`). `npm run check:examples`; `.ci/run`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packPublished, publishedPackages, root } from './lib/pack.mjs';

const started = Date.now();
const keep = process.argv.includes('--keep');
const TIMEOUT_MS = 30_000; // per example, servers included
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY_PREFIX = `bo-readme-${randomBytes(4).toString('hex')}`;
/** Runs started so far (each gets the prefix `<KEY_PREFIX>-<n>`). */
let runCount = 0;
// The peers and types the examples import, at the workspace's versions (bullmq: the optional peer
// of seat-lock's holds). Express 4 is not in the workspace; the packages accept ^4.21.0, so the
// newest 4.x is pinned here.
const EXPRESS_4 = '4.22.3';
const FROM_LOCKFILE = [
  'ioredis',
  'express',
  'fastify',
  'bullmq',
  'jose',
  '@types/express',
  '@types/node',
];

/** A payment, then the same request again: replayed (both idempotency server examples). */
const PAY_AND_REPLAY = [
  { method: 'POST', path: '/payments', key: '"k-1"', body: { amount: 55000 }, status: 201 },
  {
    method: 'POST',
    path: '/payments',
    key: '"k-1"',
    body: { amount: 55000 },
    status: 201,
    check: (res) =>
      res.headers.get('idempotent-replayed') === 'true' ? null : 'no Idempotent-Replayed: true',
  },
];

/**
 * Requests a server example gets once it listens, by `<package dir>/<file>`: each answer's status
 * must be `status`, and `check(response, body)` may return a complaint. The server must still be
 * running after the last one.
 */
const SERVERS = {
  'queue/server.mjs': [
    { method: 'POST', path: '/queue/alice/join', status: 200, check: stateIs('waiting', 'active') },
    { method: 'GET', path: '/queue/alice', status: 200, check: stateIs('waiting', 'active') },
    // An invalid user id (RangeError in join) must be a 400, not an unhandled rejection (Express 4).
    { method: 'POST', path: `/queue/${'u'.repeat(300)}/join`, status: 400 },
    { method: 'GET', path: '/seats', status: 401 },
    { method: 'POST', path: '/queue/alice/leave', status: 200 },
  ],
  'idempotency/fastify.ts': [
    ...PAY_AND_REPLAY,
    { method: 'POST', path: '/payments', body: { amount: 1 }, status: 400 },
  ],
  'queue/fastify.ts': [
    { method: 'POST', path: '/queue/alice/join', status: 200, check: stateIs('waiting', 'active') },
    {
      method: 'GET',
      path: '/seats',
      headers: { authorization: 'Bearer nope' },
      status: 401,
      check: (res, body) =>
        res.headers.get('x-request-id') === body?.requestId && body?.code === 'token_invalid'
          ? null
          : 'onProblem did not shape the problem (x-request-id, code, requestId)',
    },
  ],
  'idempotency/payments.ts': [
    ...PAY_AND_REPLAY,
    {
      method: 'POST',
      path: '/refunds',
      body: { amount: 1 },
      headers: { 'x-request-id': 'req-1' },
      status: 400,
      check: (res, body) =>
        res.headers.get('x-request-id') === 'req-1' &&
        body?.code === 'idempotency_key_invalid' &&
        body?.requestId === 'req-1'
          ? null
          : 'onProblem did not shape the problem (x-request-id, code, requestId)',
    },
  ],
};

function stateIs(...states) {
  return (_res, body) => (states.includes(body?.state) ? null : `state is not ${states.join('/')}`);
}

const published = publishedPackages();
const scratch = mkdtempSync(join(tmpdir(), 'boxoffice-readme-examples-'));
const results = [];
let redisCleaned = false;
try {
  const examples = published.flatMap(({ dir, pkg }) =>
    readmeExamples(join(dir, 'README.md')).map((e) => ({ ...e, pkg, short: dir.split('/').pop() })),
  );
  if (examples.length === 0) throw new Error('no README examples found');
  const packed = packPublished(published, join(scratch, 'tarballs'));
  install(packed, importedPeers(examples));
  const timings = { install: Date.now() - started };

  for (const e of examples) write(join(scratch, 'examples', e.short, e.file), e.source);
  // Express 4 beside Express 5: examples copied under express4/ find it first.
  mkdirSync(join(scratch, 'express4/node_modules'), { recursive: true });
  symlinkSync(
    join(scratch, 'node_modules/express4'),
    join(scratch, 'express4/node_modules/express'),
  );

  const typed = examples.some((e) => e.file.endsWith('.ts'));
  if (typed) results.push(...(await typecheck()));
  timings.tsc = Date.now() - started - timings.install;

  const runs = [];
  for (const e of examples) {
    const id = `${e.short}/${e.file}`;
    const js = e.file.endsWith('.ts')
      ? join('build', e.short, e.file.replace(/\.ts$/, '.js'))
      : join('examples', id);
    const variants = [{ name: id, file: join(scratch, js) }];
    if (/from ['"]express['"]/.test(e.source)) {
      variants[0].name += ' (express 5)';
      cpSync(join(scratch, js), join(scratch, 'express4', js));
      variants.push({ name: `${id} (express 4)`, file: join(scratch, 'express4', js) });
    }
    for (const v of variants) runs.push(runExample(v.name, v.file, SERVERS[id]));
  }
  for (const { dir, pkg } of published) {
    // Every entry: the main one and each subpath export (seat-lock's `/holds`).
    for (const entry of Object.keys(pkg.exports).filter((e) => e !== './package.json')) {
      const short = dir.split('/').pop() + entry.slice(1);
      const file = join(scratch, 'cjs', `${short.replaceAll('/', '-')}.cjs`);
      write(file, cjsSmoke(pkg.name + entry.slice(1)));
      runs.push(runExample(`${short}: require() from CommonJS`, file));
    }
  }
  results.push(...(await Promise.all(runs)));
  timings.run = Date.now() - started - timings.install - timings.tsc;

  const cleaned = runExample('cleanup', write(join(scratch, 'cleanup.mjs'), cleanupScript()));
  const cleanup = await cleaned;
  redisCleaned = cleanup.ok;
  if (!cleanup.ok) results.push(cleanup);

  report(examples, timings);
} finally {
  if (!redisCleaned) console.error(`keys under ${KEY_PREFIX}: may be left in Redis`);
  if (keep) console.log(`scratch project kept: ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}

/**
 * The examples of one README: fenced blocks right after a `<!-- example: <file> -->` line (blank
 * lines between are allowed). Blocks naming the same file are joined in order into one program.
 */
function readmeExamples(readme) {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const byFile = new Map();
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*example:\s*(\S+)\s*-->\s*$/.exec(lines[i]);
    if (!marker) continue;
    let start = i + 1;
    while (lines[start]?.trim() === '') start++;
    const fence = /^(`{3,})(\w*)/.exec(lines[start] ?? '');
    if (!fence)
      throw new Error(`${readme}:${i + 1}: "${lines[i]}" is not followed by a fenced block`);
    const end = lines.findIndex((l, j) => j > start && l.startsWith(fence[1]));
    if (end < 0) throw new Error(`${readme}:${start + 1}: unclosed fence`);
    const file = marker[1];
    if (!/^[\w-]+\.(mjs|ts)$/.test(file))
      throw new Error(`${readme}:${i + 1}: ${file}: want name.mjs or name.ts`);
    const body = lines.slice(start + 1, end).join('\n');
    byFile.set(file, byFile.has(file) ? `${byFile.get(file)}\n\n${body}` : body);
    i = end;
  }
  return [...byFile].map(([file, source]) => ({ file, source: `${source}\n` }));
}

function lockedVersion(name) {
  const lock = readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8');
  const escaped = name.replace(/[/.]/g, '\\$&');
  const versions = [...lock.matchAll(new RegExp(`^ {2}'?${escaped}@(\\d[^'(:]*)'?:`, 'gm'))].map(
    (m) => m[1],
  );
  if (versions.length === 0) throw new Error(`${name} is not in pnpm-lock.yaml`);
  return versions.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }))[0];
}

/**
 * Peers of the published packages that an example imports and FROM_LOCKFILE lacks, e.g. an
 * optional peer such as fastify: installed only when an example needs it.
 */
function importedPeers(examples) {
  const imported = new Set(
    examples.flatMap((e) =>
      [...e.source.matchAll(/from ['"]((?:@[^/'"]+\/)?[^/'".][^/'"]*)/g)].map((m) => m[1]),
    ),
  );
  const peers = published.flatMap(({ pkg }) => Object.keys(pkg.peerDependencies ?? {}));
  return [...new Set(peers)].filter((name) => imported.has(name) && !FROM_LOCKFILE.includes(name));
}

/** npm install of the tarballs and the examples' peers into the scratch project. */
function install(packed, peers) {
  const dependencies = Object.fromEntries([
    ...packed.map(({ pkg, tarball }) => [pkg.name, `file:${tarball}`]),
    ...[...FROM_LOCKFILE, ...peers].map((name) => [name, lockedVersion(name)]),
    ['express4', `npm:express@${EXPRESS_4}`],
  ]);
  write(
    join(scratch, 'package.json'),
    JSON.stringify(
      { name: 'readme-examples', private: true, type: 'module', dependencies },
      null,
      2,
    ),
  );
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      '--loglevel=error',
    ],
    { cwd: scratch, encoding: 'utf8' },
  );
  if (npm.status !== 0) {
    console.error(`npm install in ${scratch} failed:\n${npm.stdout}${npm.stderr}`);
    process.exit(1);
  }
}

/**
 * Strict tsc over the TypeScript examples, as a user's project would run it: node16 resolution
 * (emitting the JavaScript that is then run), then bundler resolution. Library types are checked
 * too (skipLibCheck off), so a declaration that needs an uninstalled module fails here.
 */
function typecheck() {
  const base = { strict: true, skipLibCheck: false, target: 'es2022', types: ['node'] };
  const configs = [
    [
      'node16',
      {
        ...base,
        module: 'node16',
        moduleResolution: 'node16',
        rootDir: 'examples',
        outDir: 'build',
      },
    ],
    ['bundler', { ...base, module: 'esnext', moduleResolution: 'bundler', noEmit: true }],
  ];
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  return Promise.all(
    configs.map(async ([name, compilerOptions]) => {
      const config = `tsconfig.${name}.json`;
      write(
        join(scratch, config),
        JSON.stringify({ compilerOptions, include: ['examples/**/*.ts'] }),
      );
      const t = Date.now();
      const child = spawn(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
        cwd: scratch,
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const code = await new Promise((resolve) => child.on('close', resolve));
      return {
        name: `tsc --strict (${name} resolution)`,
        ok: code === 0,
        ms: Date.now() - t,
        output,
      };
    }),
  );
}

/** A CommonJS file that require()s `name` and compares its exports with the ESM build's. */
function cjsSmoke(name) {
  return `'use strict';
const assert = require('node:assert/strict');
const cjs = require(${JSON.stringify(name)});
import(${JSON.stringify(name)}).then((esm) => {
  const names = (m) => Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports').sort();
  assert.deepEqual(names(cjs), names(esm), 'require() and import give different export names');
  for (const k of names(esm)) assert.equal(typeof cjs[k], typeof esm[k], k);
  console.log(names(cjs).length + ' exports');
});
`;
}

function cleanupScript() {
  return `import { Redis } from 'ioredis';
const redis = new Redis(${JSON.stringify(REDIS_URL)});
let deleted = 0;
for await (const keys of redis.scanStream({ match: ${JSON.stringify(`${KEY_PREFIX}-*`)}, count: 1000 })) {
  if (keys.length > 0) deleted += await redis.unlink(...keys);
}
console.log(deleted + ' keys deleted');
await redis.quit();
`;
}

/**
 * Runs one file with node. Without `requests` it must exit 0 by itself; with them it must listen
 * on PORT, answer them as expected, still run afterwards and exit 0 on SIGTERM. All within
 * TIMEOUT_MS.
 */
async function runExample(name, file, requests) {
  const t = Date.now();
  const port = requests ? await freePort() : 0;
  // A prefix per run: the runs go in parallel, and the Express 5 and 4 runs of one example would
  // otherwise share a room and its users (one's leave made the other's next poll 'unknown').
  const prefix = `${KEY_PREFIX}-${++runCount}`;
  const child = spawn(process.execPath, [file], {
    cwd: dirname(file),
    env: { ...process.env, REDIS_URL, KEY_PREFIX: prefix, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let exit = null;
  exited.then((e) => (exit = e));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  const problems = [];
  try {
    if (requests) {
      if (await waitForListen(port, () => exit !== null)) {
        for (const r of requests) {
          const complaint = await probe(port, r);
          if (complaint) problems.push(`${r.method} ${r.path.slice(0, 40)}: ${complaint}`);
          if (exit) break;
        }
        if (exit) problems.push('the server stopped while answering requests');
        else child.kill('SIGTERM');
      } else if (!exit) problems.push('never listened on PORT');
    }
    const { code, signal } = await exited;
    if (signal === 'SIGKILL') problems.push(`did not finish within ${TIMEOUT_MS / 1000} s`);
    else if (code !== 0) problems.push(`exit ${code ?? signal}`);
  } finally {
    clearTimeout(timer);
  }
  return {
    name,
    ok: problems.length === 0,
    ms: Date.now() - t,
    output: [...problems, output].join('\n'),
  };
}

async function probe(port, { method, path, key, body, headers = {}, status, check }) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...headers,
        ...(key ? { 'idempotency-key': key } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {}
    if (res.status !== status) return `status ${res.status}, want ${status}: ${text.slice(0, 300)}`;
    return check?.(res, json) ?? null;
  } catch (error) {
    return `no answer: ${error.message}`;
  }
}

async function waitForListen(port, gaveUp) {
  const until = Date.now() + TIMEOUT_MS;
  while (Date.now() < until && !gaveUp()) {
    const listening = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => socket.end(() => resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (listening) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function write(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function report(examples, timings) {
  let failed = 0;
  for (const r of results) {
    const time = r.ms === undefined ? '' : ` (${(r.ms / 1000).toFixed(1)} s)`;
    if (r.ok) {
      console.log(`ok   ${r.name}${time}`);
      continue;
    }
    failed += 1;
    console.error(`FAIL ${r.name}${time}`);
    console.error(`  ${r.output.trim().replaceAll('\n', '\n  ')}`);
  }
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  const count = new Map();
  for (const e of examples) count.set(e.short, (count.get(e.short) ?? 0) + 1);
  const per = [...count].map(([short, n]) => `${short} ${n}`).join(', ');
  const summary = `${examples.length} README examples (${per}); pack + install ${s(timings.install)}, tsc ${s(timings.tsc)}, runs ${s(timings.run)}, total ${s(Date.now() - started)}`;
  if (failed > 0) {
    console.error(`${failed} of ${results.length} checks failed — ${summary}`);
    process.exitCode = 1;
  } else {
    console.log(`${results.length} checks passed — ${summary}`);
  }
}
