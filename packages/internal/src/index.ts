export {
  clientKeyPrefix,
  duplicateClient,
  isCluster,
  masters,
  type RedisClient,
  subscriberConnection,
} from './client.js';
export {
  type CallErrors,
  CallGuard,
  callErrors,
  DEFAULT_COMMAND_TIMEOUT_MS,
  isClientDown,
  MAX_COMMAND_TIMEOUT_MS,
  type Pending,
} from './deadline.js';
export {
  CodedError,
  type CodedErrorClass,
  callFailureKind,
  ioredisClient,
  isIoredisClient,
  isRedisOutage,
  messageOf,
  REDIS_FAILURE_KINDS,
  type RedisErrorClass,
  type RedisFailureClass,
  type RedisFailureKind,
  redisCallError,
  redisFailureError,
  redisFailureKind,
  wrongClientError,
} from './errors.js';
export { Hs256, Hs256Error, type Hs256Expect, type Hs256Refusal } from './hs256.js';
export { KeepAlive, type Renewal, whileRenewing } from './keep-alive.js';
export { bracesBalanced, hashTagOf, keyPart, keyPrefix } from './keys.js';
export { redisNowMsLua } from './lua.js';
export { type LuaScriptOptions, luaScript, type RedisScript } from './script.js';
export { abortReason, sleep } from './sleep.js';
export { clusterSlot } from './slot.js';
export {
  type PipelinedCommand,
  TickBatch,
  type TickBatchDefer,
  type TickBatchOptions,
  TickPipeline,
  TickScript,
  type TickScriptOptions,
} from './tick-batch.js';
export * as check from './validate.js';
