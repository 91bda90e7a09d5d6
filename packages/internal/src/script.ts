import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';

/** A Lua script bound to a versioned command name, callable on any client or pipeline. */
export interface RedisScript {
  /** The ioredis command name: `bo_<package>_<name>_<version>`. */
  readonly command: string;
  /** Run with EVALSHA (ioredis falls back to EVAL once when the server lacks the script). */
  run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown>;
  /** Queue on a pipeline/multi created from a client this script already ran on or was `register`ed with. */
  queue(
    pipeline: ChainableCommander,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): void;
  /** Define the command on `client` (done lazily by `run`; needed before `queue` on a fresh client). */
  register(client: RedisClient): void;
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
}

/**
 * Wrap one Lua file as an ioredis command. The version suffix keeps two installed versions of a
 * package from sharing a command name with different script bodies. Call `register(client)` in the
 * constructor of whatever uses the script: with `enableAutoPipelining`, a pipeline opened before the
 * command was defined would not know it.
 *
 * @example
 * import acquireLua from './lua/acquire.lua';
 * const acquire = luaScript('seatlock', 'acquire', acquireLua, __PACKAGE_VERSION__, { keys: 2 });
 * await acquire.run(redis, [lockKey, fenceKey], [token, ttlMs]);
 */
export function luaScript(
  pkg: string,
  name: string,
  lua: string,
  version: string,
  { keys: numberOfKeys }: LuaScriptOptions = {},
): RedisScript {
  const command = `bo_${pkg}_${name}_${version}`.replace(/[^A-Za-z0-9_]/g, '_');
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
    register,
    run(client, keys, args) {
      register(client);
      const fn = (client as unknown as Callable)[command] as Callable[string];
      return fn.call(client, ...argv(keys, args));
    },
    queue(pipeline, keys, args) {
      const fn = (pipeline as unknown as Callable)[command];
      if (typeof fn !== 'function') {
        throw new Error(
          `script ${command} is not registered on the client this pipeline came from`,
        );
      }
      fn.call(pipeline, ...argv(keys, args));
    },
  };
}
