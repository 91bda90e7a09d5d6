export {
  type ClusterNodeAddress,
  clusterReady,
  parseNodes,
  type RedisCluster,
  type StartClusterOptions,
  startCluster,
} from './cluster.js';
export { RedisProcessError, RedisUnavailableError } from './errors.js';
export { freePort } from './free-port.js';
export { deleteByPrefix, type RedisClient, scanKeys } from './keys.js';
export { answersPing, waitFor } from './probe.js';
export { hasBinary, type RedisProcess, type SpawnOptions, spawnRedis } from './redis-process.js';
export { type SentinelGroup, type SentinelGroupOptions, startSentinelGroup } from './sentinel.js';
export {
  type GetRedisOptions,
  getRedis,
  type RedisSource,
  type StandaloneRedis,
} from './standalone.js';
