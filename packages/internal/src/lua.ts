import nowMsLua from './lua/include/now-ms.lua';

/**
 * Lua include shared by several packages (pass it in `includes` of `luaScript`): defines
 * `bo_now_ms()`, Redis server time in whole milliseconds. See `lua/include/now-ms.lua`.
 */
export const redisNowMsLua: string = nowMsLua;
