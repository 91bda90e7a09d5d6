import { luaScript } from '@boxoffice/internal';
import claimLua from './lua/claim.lua';
import completeLua from './lua/complete.lua';
import inspectLua from './lua/inspect.lua';
import releaseLua from './lua/release.lua';
import renewLua from './lua/renew.lua';

const v = __PACKAGE_VERSION__;

/** The package's Lua scripts, one per atomic operation (see the header of each file). */
export const scripts = {
  claim: luaScript('idempotency', 'claim', claimLua, v),
  complete: luaScript('idempotency', 'complete', completeLua, v),
  renew: luaScript('idempotency', 'renew', renewLua, v),
  release: luaScript('idempotency', 'release', releaseLua, v),
  inspect: luaScript('idempotency', 'inspect', inspectLua, v),
} as const;
