#!/usr/bin/env node
// Runs the timing-sensitive suites (the chaos tests and the Chromium test) N times in a row with a
// CPU hog spinning on one core beside them, and prints how many runs each test passed.
//
//   npm run test:stress -- [--runs N] [--filter <substring|file>] [--no-hog] [--bail] [--no-build]
//
// Each run is one `vitest run <files>` whose results are read from vitest's JSON reporter; its full
// output (verbose reporter) is saved as test-artifacts/stress/run-K.log (git-ignored). The last line
// is `N passed, M failed` over test-runs (tests × runs); the exit code is 1 if any failed.
import { spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const VITEST = resolve(ROOT, 'node_modules/vitest/vitest.mjs');
const OUT_DIR = resolve(ROOT, 'test-artifacts/stress');
const SUITES = [
  ...listTests('examples/booking-app/test/chaos'),
  // Every Chromium test file (browser.test.ts, browser-dead-ends.test.ts, admin-browser.test.ts).
  ...listTests('examples/booking-app/test').filter((file) => /browser[^/]*\.test\.ts$/.test(file)),
];
/** How long a run may take to stop after SIGINT (vitest tears down its servers) before SIGKILL. */
const STOP_GRACE_MS = 30_000;
/** Lines of a failure message printed per failed run (the rest is in the run's log). */
const MESSAGE_LINES = 4;

const USAGE = `usage: npm run test:stress -- [options]
  --runs N             runs of the suites (default 10)
  --filter <s|file>    only the suites whose path contains <s>, or that test file (repeatable)
  --no-hog             no CPU hog beside the runs
  --bail               stop after the first run with a failure
  --no-build           skip \`node scripts/setup.mjs\` (install + build) before the runs
suites: ${SUITES.join(', ')}`;

function listTests(dir) {
  return readdirSync(resolve(ROOT, dir))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => `${dir}/${name}`);
}

function parseArgs(argv) {
  const opts = { runs: 10, hog: true, bail: false, build: true, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${arg} needs a value`);
      return v;
    };
    if (arg === '--runs') {
      opts.runs = Number(value());
      if (!Number.isInteger(opts.runs) || opts.runs < 1) fail('--runs must be a positive integer');
    } else if (arg === '--filter') opts.filters.push(value());
    else if (arg === '--no-hog') opts.hog = false;
    else if (arg === '--bail') opts.bail = true;
    else if (arg === '--no-build') opts.build = false;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${arg}`);
  }
  return opts;
}

function fail(message) {
  console.error(`stress: ${message}\n${USAGE}`);
  process.exit(2);
}

/** The suite files to run: all of SUITES, or those matching a --filter (a substring or a file). */
function selectFiles(filters) {
  if (!filters.length) return SUITES;
  const files = new Set();
  for (const filter of filters) {
    const path = resolve(process.cwd(), filter);
    if (existsSync(path) && statSync(path).isFile()) {
      files.add(relative(ROOT, path));
      continue;
    }
    const matching = SUITES.filter((file) => file.includes(filter));
    if (!matching.length) fail(`--filter ${filter} matches no suite and is not a file`);
    for (const file of matching) files.add(file);
  }
  return [...files];
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const minutes = (ms) => `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

// --- child processes: the hog and the current vitest run, both stopped on any way out ---

let hog;
let current; // the running vitest child

/**
 * A node process spinning on one core. It checks every ~0.1 s whether its parent is gone (its
 * ppid changed) and exits then, so even a SIGKILLed runner leaves no hog behind.
 */
function startHog() {
  const code =
    'const p=process.ppid;for(;;){for(let i=0;i<5e7;i++);if(process.ppid!==p)process.exit(0)}';
  // Its own process group: a Ctrl-C reaches the runner, which stops the hog itself.
  hog = spawn(process.execPath, ['-e', code], { stdio: 'ignore', detached: true });
  hog.on('exit', (code, signal) => {
    if (!hogStopped) console.error(`stress: the CPU hog exited (${signal ?? code})`);
    hog = undefined;
  });
}

let hogStopped = false;
function stopHog() {
  hogStopped = true;
  hog?.kill('SIGKILL');
}

let exiting = false;
/** Stop the hog and the current run (letting vitest tear down), then exit with `code`. */
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  stopHog();
  if (current) await stopRun(current);
  process.exit(code);
}

process.on('exit', () => {
  stopHog();
  // Last resort: the run's whole process group (its servers and browser included).
  if (current && current.exitCode === null) signalGroup(current, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    console.error(
      `\nstress: ${signal}, stopping${current ? ' the run (its teardown may take a moment)' : ''}`,
    );
    shutdown(130);
  });
}
process.on('uncaughtException', (error) => {
  console.error(error);
  shutdown(1);
});
process.on('unhandledRejection', (error) => {
  console.error(error);
  shutdown(1);
});

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * SIGINT to the run's process group, as Ctrl-C in a terminal would (vitest and the servers the tests
 * started clean up on it), then SIGKILL to the group if it is not gone within STOP_GRACE_MS.
 */
function stopRun(child) {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_GRACE_MS);
    child.on('exit', () => {
      clearTimeout(timer);
      // Whatever of the group outlived vitest.
      signalGroup(child, 'SIGKILL');
      done();
    });
    signalGroup(child, 'SIGINT');
  });
}

// --- one run ---

/** Run vitest once; resolves with its exit code and parsed JSON report (undefined if none). */
function runOnce(k, files) {
  const log = resolve(OUT_DIR, `run-${k}.log`);
  const json = resolve(OUT_DIR, `run-${k}.json`);
  const args = [
    VITEST,
    'run',
    ...files,
    '--reporter=verbose',
    '--reporter=json',
    `--outputFile.json=${json}`,
  ];
  return new Promise((done, reject) => {
    const out = createWriteStream(log);
    out.write(`$ node ${args.map((a) => relative(ROOT, a) || a).join(' ')}\n\n`);
    // Its own process group, so an error or a signal here can stop everything it started.
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', BOXOFFICE_CHAOS: '1' }, // a plain-text log; chaos included
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      current = undefined;
      // Servers or browsers a test left running would load the next run: say so, and stop them.
      let leftover = false;
      try {
        process.kill(-child.pid, 0);
        leftover = true;
      } catch {
        // none
      }
      if (leftover) {
        if (!exiting) console.log(`stress: processes of run ${k} outlived vitest; killing them`);
        signalGroup(child, 'SIGKILL');
      }
      out.end(() => {
        let report;
        try {
          report = JSON.parse(readFileSync(json, 'utf8'));
        } catch {
          report = undefined;
        }
        done({ code: code ?? signal, report, log: relative(ROOT, log) });
      });
    });
  });
}

// --- results ---

/** file + test name → { name, passed, runs, failures: [{ run, message, log }] }, first-seen order. */
const tests = new Map();
/** Failures not tied to one test: a file that failed to load, a hook, unhandled errors, a crash. */
const runErrors = [];

function record(file, name, run, passed, message, log) {
  const key = `${file}\0${name}`;
  let entry = tests.get(key);
  if (!entry) {
    entry = { name, passed: 0, runs: new Set(), failures: [] };
    tests.set(key, entry);
  }
  entry.runs.add(run);
  if (passed) entry.passed++;
  else entry.failures.push({ run, message, log });
}

/** The first lines of a failure: its message and the stack frames in this repository's code. */
function firstLines(text, n = MESSAGE_LINES) {
  return (text || '(no message)')
    .split('\n')
    .map((line) => line.trimEnd().replaceAll(`file://${ROOT}/`, '').replaceAll(`${ROOT}/`, ''))
    .filter(
      (line) => line && !(/^\s+at /.test(line) && /node_modules|node:|<anonymous>/.test(line)),
    )
    .slice(0, n);
}

/** Records run k's results; returns how many test failures and run errors it had. */
function collect(k, { code, report, log }) {
  let failed = 0;
  if (!report) {
    runErrors.push({ run: k, message: `vitest exited ${code} without a JSON report`, log });
    return 1;
  }
  for (const file of report.testResults) {
    const fileName = relative(ROOT, file.name);
    for (const t of file.assertionResults) {
      const name = [...t.ancestorTitles, t.title].filter(Boolean).join(' > ');
      const passed = t.status === 'passed';
      if (!passed) failed++;
      const message =
        t.status === 'failed' ? t.failureMessages.join('\n') : `test ${t.status} (did not pass)`;
      record(fileName, name, k, passed, message, log);
    }
    // A file whose load or beforeAll/afterAll failed: its error is on the file, not on a test.
    if (file.status === 'failed' && (file.message || !file.assertionResults.length)) {
      runErrors.push({ run: k, message: `${fileName}: ${file.message || 'failed'}`, log });
      failed++;
    }
  }
  if (code !== 0 && failed === 0) {
    runErrors.push({
      run: k,
      message: `vitest exited ${code} with every test passed (unhandled error? see the log)`,
      log,
    });
    failed++;
  }
  return failed;
}

function printSummary(runsDone) {
  let passed = 0;
  let failed = 0;
  console.log(`\nper test (passed/runs):`);
  for (const entry of tests.values()) {
    // A test missing from some run (its file crashed or the run was cut short) did not pass there.
    for (let k = 1; k <= runsDone; k++) {
      if (!entry.runs.has(k)) {
        entry.runs.add(k);
        entry.failures.push({
          run: k,
          message: 'did not run',
          log: `test-artifacts/stress/run-${k}.log`,
        });
      }
    }
    entry.failures.sort((a, b) => a.run - b.run);
    passed += entry.passed;
    failed += entry.failures.length;
    console.log(`${`${entry.passed}/${runsDone}`.padStart(7)}  ${entry.name}`);
    for (const f of entry.failures) printFailure(f);
  }
  if (runErrors.length) {
    console.log('\nrun errors (not tied to one test):');
    for (const e of runErrors) printFailure(e);
    failed += runErrors.length;
  }
  return { passed, failed };
}

function printFailure({ run, message, log }) {
  console.log(`           run ${run} failed (full log: ${log}):`);
  for (const line of firstLines(message)) console.log(`             ${line}`);
}

// --- main ---

const opts = parseArgs(process.argv.slice(2));
const files = selectFiles(opts.filters);

if (opts.build) {
  console.log('stress: building (node scripts/setup.mjs; --no-build to skip)');
  const built = spawnSync(process.execPath, [resolve(ROOT, 'scripts/setup.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (built.status !== 0) {
    console.error('stress: the build failed');
    process.exit(built.status ?? 1);
  }
}

mkdirSync(OUT_DIR, { recursive: true });
for (const name of readdirSync(OUT_DIR)) {
  if (/^run-\d+\.(log|json)$/.test(name)) rmSync(resolve(OUT_DIR, name));
}

console.log(`stress: ${opts.runs} run(s) of ${files.join(' ')}`);
console.log(`stress: CPU hog on one core: ${opts.hog ? 'yes' : 'no (--no-hog)'}`);
console.log(`stress: logs in ${relative(ROOT, OUT_DIR)}/run-K.log`);
console.log(`stress: load average before (1/5/15 min): ${load()}`);
if (opts.hog) startHog();

const started = Date.now();
let runsDone = 0;
for (let k = 1; k <= opts.runs; k++) {
  const t0 = Date.now();
  const result = await runOnce(k, files);
  runsDone = k;
  const failed = collect(k, result);
  const verdict = failed ? `${failed} failed` : 'passed';
  console.log(
    `run ${k}/${opts.runs}: ${verdict} in ${seconds(Date.now() - t0)} (load ${load()}) — ${result.log}`,
  );
  if (failed && opts.bail && k < opts.runs) {
    console.log(`stress: --bail, stopping after run ${k}`);
    break;
  }
}
stopHog();

const { passed, failed } = printSummary(runsDone);
console.log(
  `\nstress: ${runsDone} run(s) in ${minutes(Date.now() - started)}; load average after: ${load()}`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
