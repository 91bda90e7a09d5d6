import { luaScript, type RedisScript } from '@boxoffice/internal';
import claimLua from './lua/claim.lua';
import completeLua from './lua/complete.lua';
import inspectLua from './lua/inspect.lua';
import releaseLua from './lua/release.lua';
import renewLua from './lua/renew.lua';

const v = __PACKAGE_VERSION__;

/** A script plus the name of its ioredis command variant that answers bulk strings as Buffers. */
export interface Script extends RedisScript {
  readonly bufferCommand: string;
}

function script(name: string, lua: string): Script {
  const s = luaScript('idempotency', name, lua, v);
  return Object.freeze({ ...s, bufferCommand: `${s.command}Buffer` });
}

/**
 * The package's Lua scripts, one per atomic operation (see the header of each file). A script
 * whose Lua changes gets a new name (`claim3`), so that two versions never share a command name.
 * (The string record layout of record.ts came with claim3/complete2/renew2/release2/inspect2.)
 */
export const scripts = {
  claim: script('claim3', claimLua),
  complete: script('complete2', completeLua),
  renew: script('renew2', renewLua),
  release: script('release2', releaseLua),
  inspect: script('inspect2', inspectLua),
} as const;
