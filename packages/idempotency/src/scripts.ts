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
  return Object.freeze({
    command: s.command,
    bufferCommand: `${s.command}Buffer`,
    run: s.run,
    queue: s.queue,
    register: s.register,
  });
}

/**
 * The package's Lua scripts, one per atomic operation (see the header of each file). A script
 * whose Lua changes gets a new name (`claim2`), so that two versions never share a command name.
 */
export const scripts = {
  claim: script('claim2', claimLua),
  complete: script('complete', completeLua),
  renew: script('renew', renewLua),
  release: script('release', releaseLua),
  inspect: script('inspect', inspectLua),
} as const;
