import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';

/** A Lua script bound to a versioned command name, callable on any client or pipeline. */
export interface RedisScript {
  /** The ioredis command name: `bo_<package>_<name>_<version>`. */
  readonly command: string;
  /** The text sent to Redis: the includes, in order, then the script. */
  readonly lua: string;
  /** Run with EVALSHA (ioredis falls back to EVAL once when the server lacks the script). */
  run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown>;
  /**
   * Queue on a pipeline/multi created from a client this script already ran on or was `register`ed
   * with. `onReply` runs when this call's reply (or error) arrives, before the pipeline's `exec()`
   * resolves (e.g. {@link CallGuard.pipeline}'s progress callback).
   */
  queue(
    pipeline: ChainableCommander,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
    onReply?: () => void,
  ): void;
  /** Define the command on `client` (done lazily by `run`; needed before `queue` on a fresh client). */
  register(client: RedisClient): void;
  /** The command's arguments for `keys` and `args`, as `run` and `queue` send them after its name. */
  argv(keys: readonly string[], args: readonly (string | number | Buffer)[]): unknown[];
}

type Callable = Record<string, (...args: (string | number | Buffer)[]) => Promise<unknown>>;

/** Options of {@link luaScript}. */
export interface LuaScriptOptions {
  /**
   * The script's fixed number of KEYS. Give it whenever the script has one: ioredis then sends the
   * first key first, which is what Cluster routing with `enableAutoPipelining` hashes (with a
   * variable count the first argument is the count itself, and auto-pipelined batches land on the
   * wrong slot). Omit it for scripts taking a variable number of keys.
   */
  keys?: number;
  /**
   * Shared Lua blocks put before the script, in this order (each at most once). Each is the
   * text of one file in a `lua/include/` folder, which only defines `local` functions and constants
   * named with its package's prefix (`bo_` in internal, `sl_` seat-lock, `sk_` sketch) and may use
   * those of the includes listed before it.
   */
  includes?: readonly string[];
}

// Command name → script text, for every script wrapped in this process (bundle of internal).
const bodies = new Map<string, string>();

/**
 * The text of a script with its shared blocks: `includes` in order, then `lua`, one per line. Each
 * include must open with its header comment (what it provides), appear once, and no top-level
 * `local function` may be defined twice across them and the script: a second definition would
 * silently replace the shared one, i.e. a copy would be back.
 */
function withIncludes(lua: string, includes: readonly string[]): string {
  const defined = new Set<string>();
  const define = (part: string, what: string) => {
    for (const [, name] of part.matchAll(/^local function ([A-Za-z_][A-Za-z0-9_]*)/gm)) {
      if (defined.has(name as string)) {
        throw new TypeError(`${what} defines ${name} a second time (it would replace the first)`);
      }
      defined.add(name as string);
    }
  };
  includes.forEach((part, i) => {
    const what = `include ${i + 1} (${part.split('\n', 1)[0]})`;
    if (!part.startsWith('--')) {
      throw new TypeError(`${what} must open with a header comment saying what it provides`);
    }
    if (includes.indexOf(part) !== i) throw new TypeError(`${what} is listed twice`);
    define(part, what);
  });
  define(lua, 'the script');
  return [...includes, lua].join('\n');
}

/**
 * Wrap one Lua file, after its shared blocks (`includes`), as an ioredis command. The version
 * suffix keeps two installed versions of a package from sharing a command name with different
 * script bodies (includes are bundled at build time, so a version fixes the whole text); within
 * one process, a second script with the same name and another text is refused. Call
 * `register(client)` in the constructor of whatever uses the script: with `enableAutoPipelining`,
 * a pipeline opened before the command was defined would not know it.
 *
 * @example
 * import { luaScript, redisNowMsLua } from '@boxoffice/internal';
 * import placeLua from './lua/hold-place.lua';
 * const place = luaScript('seatlock', 'hold_place', placeLua, __PACKAGE_VERSION__, {
 *   keys: 2,
 *   includes: [redisNowMsLua],
 * });
 * await place.run(redis, [recordKey, dueKey], [holdId, ttlMs, graceMs]);
 */
export function luaScript(
  pkg: string,
  name: string,
  script: string,
  version: string,
  { keys: numberOfKeys, includes = [] }: LuaScriptOptions = {},
): RedisScript {
  const command = `bo_${pkg}_${name}_${version}`.replace(/[^A-Za-z0-9_]/g, '_');
  const lua = withIncludes(script, includes);
  const known = bodies.get(command);
  if (known !== undefined && known !== lua) {
    throw new TypeError(`two different scripts are named ${command}`);
  }
  bodies.set(command, lua);
  const register = (client: RedisClient) => {
    if (typeof (client as unknown as Callable)[command] !== 'function') {
      client.defineCommand(command, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
    }
  };
  const argv = (keys: readonly string[], args: readonly (string | number | Buffer)[]) => {
    if (numberOfKeys === undefined) return [keys.length, ...keys, ...args];
    if (keys.length !== numberOfKeys) {
      throw new TypeError(`script ${command} takes ${numberOfKeys} keys, got ${keys.length}`);
    }
    return [...keys, ...args];
  };
  return {
    command,
    lua,
    register,
    argv,
    run(client, keys, args) {
      register(client);
      const fn = (client as unknown as Callable)[command] as Callable[string];
      return fn.call(client, ...argv(keys, args));
    },
    queue(pipeline, keys, args, onReply) {
      const fn = (pipeline as unknown as Callable)[command];
      if (typeof fn !== 'function') {
        throw new Error(
          `script ${command} is not registered on the client this pipeline came from`,
        );
      }
      if (onReply)
        (fn as (...a: unknown[]) => unknown).call(pipeline, ...argv(keys, args), onReply);
      else fn.call(pipeline, ...argv(keys, args));
    },
  };
}
