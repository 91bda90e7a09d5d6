// TypeDoc plugin (typedoc.json `plugin`): the API reference documents what npm publishes, read from
// the packages themselves so that a new package or a new subpath export cannot be forgotten.
// - The packages are every packages/* whose package.json is not private.
// - A package's entry points are its `exports` subpaths (all but ./package.json): the build
//   (tsup, one entry per src/<name>.ts) emits `./dist/<name>.d.ts` from `src/<name>.ts`, so that
//   is the source TypeDoc reads. A subpath whose types do not follow this fails the build.
// - Each entry point's module is named by its import specifier (`@boxoffice/seat-lock/holds`), not
//   by its file name (`holds`).
// - A package's page opens with its package.json `description` and a link to its README.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Comment, Converter, ReflectionKind } from 'typedoc';

const root = new URL('..', import.meta.url).pathname;

/** The published packages' directories (packages/* that are not private), sorted. */
function publishedDirs() {
  return readdirSync(join(root, 'packages'))
    .sort()
    .map((name) => join(root, 'packages', name))
    .filter((dir) => existsSync(join(dir, 'package.json')) && !readManifest(dir).private);
}

function readManifest(dir) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

/**
 * `{ specifier, source }` for each subpath of a package's `exports` but ./package.json, with
 * `source` relative to the package (`src/holds.ts`). Throws for a subpath it cannot map.
 */
export function exportedEntries(dir) {
  const manifest = readManifest(dir);
  const entries = [];
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    if (subpath === './package.json') continue;
    const types = target?.import?.types ?? target?.types;
    const built = /^\.\/dist\/(.+)\.d\.ts$/.exec(types ?? '');
    const source = built && `src/${built[1]}.ts`;
    if (!source || !existsSync(join(dir, source))) {
      throw new Error(
        `${manifest.name}: exports["${subpath}"] has types ${JSON.stringify(types)}, not ./dist/<name>.d.ts built from an existing src/<name>.ts`,
      );
    }
    entries.push({ specifier: posix.join(manifest.name, subpath), source });
  }
  if (entries.length === 0) throw new Error(`${manifest.name}: package.json has no exports`);
  return entries;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.options.addReader({
    name: 'boxoffice-exports',
    // After typedoc.json and tsconfig.json, so that what it sets wins.
    order: 10_000,
    supportsPackages: true,
    read(options) {
      if (options.packageDir) {
        const entries = exportedEntries(options.packageDir);
        options.setValue(
          'entryPoints',
          entries.map(({ source }) => join(options.packageDir, source)),
        );
      } else {
        const dirs = publishedDirs();
        options.setValue('entryPoints', dirs);
        // validation.notDocumented checks only these (TypeDoc's default, the root project's own
        // package, is no package at all in packages mode).
        options.setValue(
          'packagesRequiringDocumentation',
          dirs.map((dir) => readManifest(dir).name),
        );
      }
    },
  });

  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const dir = app.options.packageDir;
    if (!dir) return;
    const { description, homepage } = readManifest(dir);
    context.project.comment ??= new Comment([
      { kind: 'text', text: `${description}\n\nStart with the [README](${homepage}).` },
    ]);
    const bySource = new Map(exportedEntries(dir).map((e) => [e.source, e.specifier]));
    for (const module of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const id = context.project.getSymbolIdFromReflection(module);
      const specifier = id && bySource.get(id.packagePath);
      if (specifier) module.name = specifier;
      else app.logger.error(`${module.name}: a module that is none of the exports of ${dir}`);
    }
  });
}
