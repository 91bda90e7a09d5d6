/** Replaced at build time (tsup `define`) and in tests (vitest `define`) by the package's version. */
declare const __PACKAGE_VERSION__: string;

/** Lua scripts are bundled as text (tsup `loader: { '.lua': 'text' }`, vitest plugin `luaAsText`). */
declare module '*.lua' {
  const source: string;
  export default source;
}
