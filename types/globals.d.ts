/** Replaced at build time (tsup `define`) and in tests (vitest `define`) by the package's version. */
declare const __PACKAGE_VERSION__: string;

/** Lua scripts and SQL migrations are imported as text (tsup `text` loader, vitest `filesAsText`). */
declare module '*.lua' {
  const source: string;
  export default source;
}

declare module '*.sql' {
  const source: string;
  export default source;
}
