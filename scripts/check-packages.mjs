#!/usr/bin/env node
// Checks what npm would publish: packs every published package (packages/* that are not private)
// with pnpm into a temporary directory, then runs arethetypeswrong (are the types right for
// import and require, under node10, node16 and bundler resolution) and publint (does package.json
// match the files in the tarball) on each tarball, and checks that each carries REQUIRED_FILES.
// Any problem — an attw finding, a publint message of any level (suggestions included), a missing
// file, an optional peer dependency loaded by the main entry — fails with the tool's own explanation.
// Needs the build (`node scripts/setup.mjs`). Run by `.ci/run` before the tests; `npm run check:packages`.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import {
  problemAffectsEntrypointResolution,
  problemKindInfo,
} from '@arethetypeswrong/core/problems';
import { allResolutionKinds } from '@arethetypeswrong/core/utils';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { packPublished, publishedPackages } from './lib/pack.mjs';

// Besides what package.json points at (publint checks those), every tarball carries these.
const REQUIRED_FILES = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];
const started = Date.now();

const published = publishedPackages();

const out = mkdtempSync(join(tmpdir(), 'boxoffice-pack-'));
try {
  const packed = packPublished(published, out);

  const results = [];
  for (const { pkg, tarball } of packed) {
    if (!existsSync(tarball)) {
      results.push({ pkg, problems: [`no tarball at ${tarball}`] });
      continue;
    }
    const problems = await typeProblems(tarball);
    const bytes = readFileSync(tarball);
    const lint = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) },
      level: 'suggestion',
      strict: true,
    });
    for (const message of lint.messages) {
      const text = formatMessage(message, lint.pkg, { color: false });
      problems.push(`publint ${message.type} ${message.code}: ${text}`);
    }
    results.push({ pkg, problems });
  }

  let failed = 0;
  for (const { pkg, problems } of results) {
    if (problems.length === 0) {
      console.log(`ok   ${pkg.name}@${pkg.version}: arethetypeswrong and publint found nothing`);
      continue;
    }
    failed += 1;
    console.error(`FAIL ${pkg.name}@${pkg.version}:`);
    for (const problem of problems) console.error(`  ${problem.replaceAll('\n', '\n    ')}`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (failed > 0) {
    console.error(`${failed} of ${results.length} packages have packaging problems (${seconds} s)`);
    process.exitCode = 1;
  } else {
    console.log(`${results.length} packages packed and checked in ${seconds} s`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

/**
 * arethetypeswrong's findings for one tarball, in the words of `attw <tarball>` under its default
 * (strict) profile: every entrypoint under node10, node16 from CJS and from ESM, and bundler. This
 * is @arethetypeswrong/core, which the attw CLI runs, called in this process: TypeScript is loaded
 * once for all packages instead of once per package, and no @types package is fetched.
 */
async function typeProblems(tarball) {
  const pkg = createPackageFromTarballData(readFileSync(tarball));
  const dir = `/node_modules/${pkg.packageName}`;
  const missing = REQUIRED_FILES.filter((file) => !pkg.fileExists(`${dir}/${file}`)).map(
    (file) => `the tarball has no ${file} (add it to "files" in package.json)`,
  );
  missing.push(...optionalPeerProblems(pkg, dir));
  const analysis = await checkPackage(pkg);
  if (!analysis.types) return [...missing, 'arethetypeswrong: the package has no types'];
  return missing.concat(
    analysis.problems.map((problem) => {
      const info = problemKindInfo[problem.kind];
      const where = [];
      for (const entrypoint of Object.keys(analysis.entrypoints)) {
        for (const kind of allResolutionKinds) {
          if (problemAffectsEntrypointResolution(problem, entrypoint, kind, analysis)) {
            where.push(`"${entrypoint}" ${kind}`);
          }
        }
      }
      return `arethetypeswrong ${info.title}: ${info.description} [${where.join(', ')}] ${info.docsUrl}`;
    }),
  );
}

/**
 * An optional peer dependency (`peerDependenciesMeta.<name>.optional`) is installed only by those
 * who use the entry that needs it (seat-lock's bullmq, for `/holds`): the main entry, `"."`, must
 * not load it, in its ESM or its CJS build, through any file it imports (shared chunks included).
 */
function optionalPeerProblems(pkg, dir) {
  const manifest = JSON.parse(pkg.readFile(`${dir}/package.json`));
  const optional = Object.entries(manifest.peerDependenciesMeta ?? {})
    .filter(([, meta]) => meta?.optional)
    .map(([name]) => name);
  if (optional.length === 0) return [];
  const main = manifest.exports?.['.'] ?? {};
  const starts = [main.import?.default, main.require?.default].filter(Boolean);
  const problems = [];
  const seen = new Set();
  const queue = starts.map((file) => posix.join(dir, file));
  while (queue.length > 0) {
    const file = queue.pop();
    if (seen.has(file) || !pkg.fileExists(file)) continue;
    seen.add(file);
    const text = pkg.readFile(file);
    for (const match of text.matchAll(/(?:from|import|require)\s*\(?\s*["']([^"']+)["']/g)) {
      const specifier = match[1];
      if (specifier.startsWith('.')) queue.push(posix.join(posix.dirname(file), specifier));
      else if (
        optional.some((name) => specifier === name || specifier.startsWith(`${name}/`)) &&
        !deferredLoad(text, match)
      )
        problems.push(
          `the main entry loads the optional peer dependency ${specifier} (${posix.relative(dir, file)})`,
        );
    }
  }
  return problems;
}

/**
 * A dynamic import (`import("x")`, which the CJS build turns into
 * `Promise.resolve().then(() => …require("x"))`) does not load the peer when the entry loads, and
 * its rejection can be caught: how `@boxoffice/internal/tracing` uses `@opentelemetry/api` when it is
 * installed and runs without it when not (check-readme-examples installs no optional peer).
 */
function deferredLoad(text, match) {
  if (/^import\s*\(/.test(match[0])) return true;
  const before = text.slice(Math.max(0, match.index - 80), match.index);
  return (
    match[0].startsWith('require') && /Promise\.resolve\(\)\.then\(\(\) => [\w$]*\($/.test(before)
  );
}
