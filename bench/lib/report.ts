import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';

/** One results table of a benchmark. */
export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  /** Lines printed under the table (method, caveats, targets met or not). */
  notes?: string[];
}

const BENCHMARKS_MD = join(import.meta.dirname, '..', '..', 'BENCHMARKS.md');

/** What the numbers were measured on, for the report header. */
export function machine(extra: Record<string, string> = {}): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const facts = {
    cpu: `${cpu} × ${cpus().length}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    ...extra,
  };
  return Object.entries(facts)
    .map(([k, v]) => `${k}: ${v}`)
    .join(' · ');
}

function cell(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    return Math.abs(value) >= 100
      ? Math.round(value).toLocaleString('en-US')
      : String(Number(value.toPrecision(3)));
  }
  return value;
}

const loadAtStart = loadavg()[0] ?? 0;

/**
 * How busy the machine was: the 1-minute load average when this module was loaded (the start of
 * the run) and now, against the core count — so a reader can tell a quiet run from a loaded one.
 */
export function loadNote(): string {
  const now = loadavg()[0] ?? 0;
  const busy = Math.max(loadAtStart, now) > cpus().length * 0.75;
  return (
    `1-minute load average ${loadAtStart.toFixed(1)} at the start and ${now.toFixed(1)} at the end, ${cpus().length} cores` +
    (busy
      ? ': the machine was busy, so absolute numbers are noisy; compare the ratios within one run.'
      : '; absolute numbers still depend on the machine: compare the ratios.')
  );
}

/** The table as Markdown. */
export function markdown(table: Table): string {
  const lines = [
    `### ${table.title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map(() => '---').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  if (table.notes?.length) lines.push('', ...table.notes);
  return lines.join('\n');
}

/** Print to the console (the same Markdown, readable as is). */
export function print(table: Table): void {
  console.log(`\n${markdown(table)}\n`);
}

function withLock<T>(fn: () => T): T {
  const lock = `${BENCHMARKS_MD}.lock`;
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || i > 200) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    return fn();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * Replace this benchmark's section of BENCHMARKS.md (between `<!-- bench:NAME -->` markers, added at
 * the end the first time) with the tables, the machine and the date. Other sections are kept.
 */
export function writeSection(
  name: string,
  heading: string,
  tables: Table[],
  about: string[] = [],
): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const body = [
    start,
    `## ${heading}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}. Run with \`npm run bench:${name}\`.`,
    ...(about.length ? ['', ...about] : []),
    '',
    ...tables.map(markdown).join('\n\n').split('\n'),
    end,
  ].join('\n');
  withLock(() => {
    const current = existsSync(BENCHMARKS_MD)
      ? readFileSync(BENCHMARKS_MD, 'utf8')
      : '# Benchmarks\n\nEach benchmark compares boxoffice with a reference in the same run; ratios matter more than absolute numbers, which depend on the machine.\n';
    const from = current.indexOf(start);
    const to = current.indexOf(end);
    const next =
      from >= 0 && to > from
        ? current.slice(0, from) + body + current.slice(to + end.length)
        : `${current.trimEnd()}\n\n${body}\n`;
    const tmp = `${BENCHMARKS_MD}.tmp`;
    writeFileSync(tmp, next);
    renameSync(tmp, BENCHMARKS_MD);
  });
}
